"""settings.toml edited outside the running app (a real file, watched for real with watchfiles):
a valid edit is applied live and says what changed; the app's own saves are not taken for edits;
an invalid edit is refused with its reason, keeps the running settings and is never overwritten
until the user chooses to keep the app's settings; an editor's save-by-rename is noticed too."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.support.fake_keyring import FakeKeyring

from steward.config import SecretStore
from steward.engine.events import EngineEvent
from steward.runtime import RuntimeOptions
from steward.service import StewardService
from steward.service.settings_drift import SettingsChangedOnDisk

WAIT_S = 10.0  # inotify + the 0.3 s debounce; generous for a busy machine


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[StewardService]:
    path = tmp_path / "settings.toml"
    path.write_text("[timeouts]\nconnect_s = 3.0\n\n[discovery]\nports = [9]\n")
    options = RuntimeOptions(
        settings_path=path,
        store=False,
        embedded=False,
        discover=False,
        health_monitor=False,
        secrets=SecretStore(FakeKeyring()),
    )
    started = await StewardService.start(options)
    started.watch_settings_file()
    await asyncio.sleep(0.5)  # the watcher is set up in its thread
    try:
        yield started
    finally:
        await started.stop()


async def next_drift(
    events: list[EngineEvent], seen: int, wait_s: float = WAIT_S
) -> SettingsChangedOnDisk | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while loop.time() < deadline:
        found = [e for e in events if isinstance(e, SettingsChangedOnDisk)]
        if len(found) > seen:
            return found[seen]
        await asyncio.sleep(0.05)
    return None


async def test_outside_edits_are_applied_or_refused_and_never_overwritten(service: StewardService) -> None:
    events: list[EngineEvent] = []
    service.subscribe(events.append)
    path = service.runtime.settings_file.path

    path.write_text("[timeouts]\nconnect_s = 7.0\n\n[discovery]\nports = [9]\n")
    applied = await next_drift(events, 0)
    assert applied is not None and applied.applied and applied.changed == ("timeouts.connect_s",)
    assert service.settings.timeouts.connect_s == 7.0
    assert applied.describe() == "settings.toml changed on disk and was applied: timeouts.connect_s"

    saved = await service.apply({"timeouts.first_token_s": 9.0})
    assert saved.ok and saved.save_error is None
    assert await next_drift(events, 1, wait_s=1.5) is None, "our own save is not an outside edit"

    broken = "[timeouts]\nconnect_s = -1\n"
    path.write_text(broken)
    refused = await next_drift(events, 1)
    assert refused is not None and not refused.applied and "timeouts.connect_s" in refused.detail
    assert service.settings.timeouts.connect_s == 7.0, "the running settings stay"
    assert service.settings_drift.pending == refused

    blocked = await service.apply({"timeouts.stall_s": 11.0})
    assert blocked.save_error is not None and "changed outside Steward" in blocked.save_error
    assert path.read_text() == broken, "the user's edit is never overwritten silently"

    await service.settings_drift.keep_ours()
    assert service.settings_drift.pending is None and "connect_s = 7.0" in path.read_text()


async def test_an_editors_save_by_rename_is_noticed(service: StewardService) -> None:
    events: list[EngineEvent] = []
    service.subscribe(events.append)
    path = service.runtime.settings_file.path
    temp = path.with_name(".settings.toml.swp")
    temp.write_text("[timeouts]\nconnect_s = 5.0\n\n[discovery]\nports = [9]\n")
    os.replace(temp, path)
    applied = await next_drift(events, 0)
    assert applied is not None and applied.applied and service.settings.timeouts.connect_s == 5.0


async def test_a_file_that_is_not_toml_is_refused_with_its_reason(service: StewardService) -> None:
    events: list[EngineEvent] = []
    service.subscribe(events.append)
    service.runtime.settings_file.path.write_text("[timeouts\nconnect_s = ")
    refused = await next_drift(events, 0)
    assert refused is not None and not refused.applied and "is not valid TOML" in refused.detail
    assert service.settings.timeouts.connect_s == 3.0
