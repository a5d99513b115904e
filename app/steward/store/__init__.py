"""SQLite persistence: samples, events (audit trail), chats, quarantine and open-circuit state.

Qt-free and engine-free: the composition root converts engine events into `Sample`/`EventRecord`
and calls `open_store()` once; everything else goes through the returned `Store`.
"""

from steward.store.export import export_events, export_samples
from steward.store.location import default_data_dir, default_db_path
from steward.store.opening import check_database, open_store
from steward.store.records import (
    BreakerRecord,
    ChatMessage,
    ChatSession,
    ChatSessionInfo,
    EventRecord,
    QuarantineRecord,
    RetentionCounts,
    Sample,
    SampleBucket,
    SamplesWindow,
)
from steward.store.retention import RetentionPolicy
from steward.store.schema import SCHEMA_VERSION, SchemaTooNewError
from steward.store.store import Store
from steward.store.writer import StoreClosedError, StoreWriter, WriterStats

__all__ = [
    "SCHEMA_VERSION",
    "BreakerRecord",
    "ChatMessage",
    "ChatSession",
    "ChatSessionInfo",
    "EventRecord",
    "QuarantineRecord",
    "RetentionCounts",
    "RetentionPolicy",
    "Sample",
    "SampleBucket",
    "SamplesWindow",
    "SchemaTooNewError",
    "Store",
    "StoreClosedError",
    "StoreWriter",
    "WriterStats",
    "check_database",
    "default_data_dir",
    "default_db_path",
    "export_events",
    "export_samples",
    "open_store",
]
