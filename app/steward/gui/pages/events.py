"""Events page: the audit trail of engine decisions — history from the store, then the live
tail — with filters by kind and model, text search, and export to CSV/JSONL of either the rows
the filter shows or every stored event."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from steward.engine.events import EngineEvent, Token
from steward.gui.bridge import Bridge
from steward.gui.tables import read_only_table
from steward.store import EventRecord

MAX_ROWS = 5000
ALL = ""


def describe_payload(payload: dict[str, object]) -> str:
    data = dict(payload)
    data.pop("request_id", None)
    data.pop("model", None)
    if isinstance(data.get("text"), str):
        data["text"] = str(data["text"])[:120]
    return ", ".join(f"{k}={v}" for k, v in data.items() if v not in (None, "", (), []))


def describe_record(record: EventRecord) -> str:
    """The Detail cell: a server's state change reads as a sentence with its reason first
    ("embedded-large: ready → crashed — killed by SIGKILL"), so do a quarantine and a failed canary;
    other events as key=value pairs."""
    payload = dict(record.payload)
    if record.type == "ServerStateChanged" and {"server", "state", "previous"} <= payload.keys():
        head = f"{payload.pop('server')}: {payload.pop('previous')} → {payload.pop('state')}"
        reason = payload.pop("detail", "")
        rest = describe_payload(payload)
        return head + (f" — {reason}" if reason else "") + (f" ({rest})" if rest else "")
    if record.type == "Quarantined":
        return quarantine_sentence(payload)
    if record.type == "CanaryFailed":  # "one-token check failed (2 in a row): … — restarting the server"
        count, detail, action = payload.get("in_a_row"), payload.get("detail"), payload.get("action")
        return f"one-token check failed ({count} in a row): {detail} — {action}"
    if record.type in SENTENCE_EVENTS and isinstance(payload.get("detail"), str):
        return str(payload["detail"])  # written as a sentence already
    if record.type == "SettingsChangedOnDisk":
        return settings_change_sentence(payload)
    return describe_payload(payload)


SENTENCE_EVENTS = frozenset({"SloAlertChanged", "DriftDetected"})
"""Events whose `detail` is the whole story in words ("success 97.0% (target 99%): …")."""


def settings_change_sentence(payload: dict[str, object]) -> str:
    """ "applied: timeouts.connect_s, …" or "NOT applied: timeouts.connect_s = -1: …"."""
    if not payload.get("applied"):
        return f"settings.toml changed on disk and was NOT applied: {payload.get('detail', '')}"
    changed = payload.get("changed") or ()
    listed = ", ".join(str(c) for c in changed) if isinstance(changed, list | tuple) else str(changed)
    return "settings.toml changed on disk and was applied: " + (listed or "no setting changed")


def quarantine_sentence(payload: dict[str, object]) -> str:
    """ "quarantined by you — flaky today (until 14:55)"; without a reason, no dash."""
    who = "by you" if payload.get("manual", True) else "automatically"
    reason = payload.get("reason") or ""
    until = payload.get("until_ts")
    when = (
        f"until {dt.datetime.fromtimestamp(until).strftime('%H:%M')}"
        if isinstance(until, int | float)
        else "until released"
    )
    return f"quarantined {who}" + (f" — {reason}" if reason else "") + f" ({when})"


class EventsPage(QWidget):
    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.kind = QComboBox()
        self.kind.setObjectName("kindFilter")
        self.kind.addItem("All kinds", ALL)
        self.kind.setToolTip("Show one kind of event only")
        self.model = QComboBox()
        self.model.setObjectName("modelFilter")
        self.model.addItem("All models", ALL)
        self.model.setMinimumWidth(160)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("search: model, kind or any text")
        self.filter.setClearButtonEnabled(True)
        for signal in (
            self.kind.currentIndexChanged,
            self.model.currentIndexChanged,
            self.filter.textChanged,
        ):
            signal.connect(self._apply_filter)
        self.follow = QCheckBox("Live tail")
        self.follow.setToolTip("Keep the newest event in view")
        self.follow.setChecked(True)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip(
            "Write the rows the filter shows, or the whole stored audit trail, to a CSV or JSON Lines file"
        )
        menu = QMenu(self.export_button)
        self.export_visible_action = menu.addAction(
            "Rows shown by the filter…", lambda: self._export_dialog(visible_only=True)
        )
        self.export_all_action = menu.addAction(
            "All stored events…", lambda: self._export_dialog(visible_only=False)
        )
        menu.aboutToShow.connect(self._name_export_actions)
        self.export_button.setMenu(menu)
        self.count = QLabel()
        self.count.setObjectName("hint")
        top = QHBoxLayout()
        top.addWidget(self.kind)
        top.addWidget(self.model)
        top.addWidget(self.filter, 1)
        top.addWidget(self.follow)
        top.addWidget(self.export_button)
        self.table = read_only_table(
            "eventsTable", ["Time", "Model", "Kind", "Detail"], resize=QHeaderView.ResizeMode.Interactive
        )
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setColumnWidth(0, 140)
        self.table.setColumnWidth(1, 200)
        self.table.setColumnWidth(2, 150)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.count)
        self._records: list[EventRecord] = []  # what each table row shows, row for row
        self._first_live_ts: float | None = None
        self._history_loaded = False
        self.last_export: tuple[str, int] | None = None
        bridge.engine_event.connect(self.on_event)
        bridge.runtime_ready.connect(lambda _w: self.load_history())

    # --- rows ------------------------------------------------------------------------------

    def load_history(self) -> None:
        """Put the stored audit trail above the live rows (read in a thread)."""
        self.bridge.history.load_events(self._show_history, limit=MAX_ROWS // 2)

    def _show_history(self, records: list[EventRecord]) -> None:
        cutoff = self._first_live_ts
        older = [r for r in records if cutoff is None or r.ts < cutoff]
        rows = [r for r in older if r.type != Token.__name__]
        self.table.setUpdatesEnabled(False)
        for index, record in enumerate(rows):
            self._insert(index, record)
        self.table.setUpdatesEnabled(True)
        self._history_loaded = True
        self._trim()
        self._update_count()
        if self.follow.isChecked():
            self.table.scrollToBottom()

    def on_event(self, event: EngineEvent) -> None:
        if isinstance(event, Token):
            return
        if self._first_live_ts is None:
            self._first_live_ts = event.ts
        record = EventRecord(event.ts, event.type, event.model_key, event.payload())
        self._insert(self.table.rowCount(), record)
        self._trim()
        self._update_count()
        if self.follow.isChecked():
            self.table.scrollToBottom()

    def _insert(self, row: int, record: EventRecord) -> None:
        model, kind, detail = record.model_key or "—", record.type, describe_record(record)
        self.table.insertRow(row)
        self._records.insert(row, record)
        when = dt.datetime.fromtimestamp(record.ts).strftime("%Y-%m-%d %H:%M:%S")
        for col, text in enumerate((when, model, kind, detail)):
            item = QTableWidgetItem(text)
            if col == 3:
                item.setToolTip(text)
            self.table.setItem(row, col, item)
        self._remember(kind, model)
        self.table.setRowHidden(row, not self._matches(row))

    def _remember(self, kind: str, model: str) -> None:
        """Grow the filter choices as new kinds and models appear (sorted)."""
        for combo, value in ((self.kind, kind), (self.model, model)):
            if value == "—" or combo.findData(value) >= 0:
                continue
            at = 1
            while at < combo.count() and str(combo.itemData(at)) < value:
                at += 1
            combo.insertItem(at, value, value)

    def _trim(self) -> None:
        extra = self.table.rowCount() - MAX_ROWS
        for _ in range(max(0, extra)):
            self.table.removeRow(0)
            del self._records[0]

    # --- filters ---------------------------------------------------------------------------

    def _cell(self, row: int, col: int) -> str:
        item = self.table.item(row, col)
        return item.text() if item is not None else ""

    def _matches(self, row: int) -> bool:
        kind, model = self.kind.currentData(), self.model.currentData()
        if kind and self._cell(row, 2) != kind:
            return False
        if model and self._cell(row, 1) != model:
            return False
        needle = self.filter.text().strip().lower()
        return not needle or any(needle in self._cell(row, c).lower() for c in range(4))

    def _apply_filter(self) -> None:
        self.table.setUpdatesEnabled(False)
        for row in range(self.table.rowCount()):
            self.table.setRowHidden(row, not self._matches(row))
        self.table.setUpdatesEnabled(True)
        self._update_count()

    def visible_rows(self) -> int:
        return sum(1 for row in range(self.table.rowCount()) if not self.table.isRowHidden(row))

    def visible_records(self) -> list[EventRecord]:
        """The events of the rows the filter shows, oldest first."""
        return [r for i, r in enumerate(self._records) if not self.table.isRowHidden(i)]

    def _update_count(self) -> None:
        total = self.table.rowCount()
        shown = self.visible_rows()
        self.count.setText(
            f"{shown:,} of {total:,} events shown" + ("" if self._history_loaded else " (live)")
        )

    # --- export ----------------------------------------------------------------------------

    def _name_export_actions(self) -> None:
        shown, total = self.visible_rows(), self.table.rowCount()
        self.export_visible_action.setText(f"Rows shown by the filter ({shown:,} of {total:,})…")
        self.export_visible_action.setEnabled(shown > 0)

    def _export_dialog(self, visible_only: bool) -> None:
        what = "the events shown" if visible_only else "the audit trail"
        path, chosen = QFileDialog.getSaveFileName(
            self,
            f"Export {what}",
            str(Path.home() / "steward-events.csv"),
            "CSV (*.csv);;JSON Lines (*.jsonl)",
        )
        if path:
            fmt = "jsonl" if "jsonl" in chosen or path.endswith(".jsonl") else "csv"
            self.export_to(path, fmt, visible_only=visible_only)

    def export_to(self, path: str, fmt: str, *, visible_only: bool = False) -> None:
        """Export the rows the filter shows (`visible_only`) or every stored event to `path`, in a
        thread; the result shows in the status bar."""

        def done(count: int) -> None:
            self.last_export = (path, count)
            which = "shown " if visible_only else ""
            self.bridge.notice.emit("info", f"exported {count:,} {which}events to {path}")

        if visible_only:
            self.bridge.history.export_event_records(self.visible_records(), path, fmt, done)
        else:
            self.bridge.history.export_events(path, fmt, done)
