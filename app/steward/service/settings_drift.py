"""settings.toml edited outside the app (another editor, a dotfiles sync): noticed, validated,
applied live or refused with the reason — as an event the Events and Settings pages show.

The file is watched with `watchfiles` (Rust `notify`: inotify / FSEvents / ReadDirectoryChangesW,
debounced; an editor's save-by-rename is seen as well). Its parent folder is watched, filtered to
the file's name, because editors replace the file rather than write into it.

- Our own saves are recognised by content (the settings file remembers a digest of what it wrote),
  so they are never mistaken for an outside edit.
- A valid edit is applied at once to everything (the same `apply_settings` as the Settings page,
  without saving back) and the event lists what changed.
- An invalid or unusable edit is refused: the running settings stay, the event says why, and the
  file is protected — the app's next save is refused (`ExternalEditError`) until the user fixes
  the file or chooses to keep the app's settings (`keep_ours`, which overwrites it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import watchfiles

from steward.config import Settings
from steward.config.settings_file import to_toml_data
from steward.engine.clock import wall_time
from steward.engine.events import EngineEvent
from steward.runtime import Runtime

log = logging.getLogger(__name__)

DEBOUNCE_MS = 300
MAX_LISTED = 8


@dataclass(frozen=True)
class SettingsChangedOnDisk(EngineEvent):
    """The settings file changed outside Steward: applied (with what changed) or refused (why)."""

    path: str
    applied: bool
    changed: tuple[str, ...] = ()
    detail: str = ""

    def describe(self) -> str:
        if not self.applied:
            return f"settings.toml changed on disk and was NOT applied: {self.detail}"
        if not self.changed:
            return "settings.toml changed on disk; no setting changed"
        shown = ", ".join(self.changed[:MAX_LISTED]) + (" …" if len(self.changed) > MAX_LISTED else "")
        return f"settings.toml changed on disk and was applied: {shown}"


def _flat(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flat(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def changed_keys(old: Settings, new: Settings) -> tuple[str, ...]:
    """Dotted names of the settings that differ ("timeouts.connect_s", "endpoints", ...)."""
    before, after = _flat(to_toml_data(old)), _flat(to_toml_data(new))
    return tuple(sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k)))


class SettingsDrift:
    """Watches the runtime's settings file and reacts to outside edits (see the module docstring)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.pending: SettingsChangedOnDisk | None = None
        """The last refused outside edit, until it is fixed, reloaded or overridden."""

    @property
    def path(self) -> Path:
        return self._runtime.settings_file.path

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._watch())

    async def stop(self) -> None:
        self._stop.set()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task}, timeout=2.0)  # the watcher thread notices the stop event

    async def _watch(self) -> None:
        folder = self.path.parent
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        name = self.path.name
        async for _ in watchfiles.awatch(
            folder,
            watch_filter=lambda _change, changed: Path(changed).name == name,
            debounce=DEBOUNCE_MS,
            stop_event=self._stop,
            recursive=False,
        ):
            try:
                await self.check_now()
            except Exception:  # watching must never take the app down
                log.exception("reacting to a settings file change failed")

    async def check_now(self) -> SettingsChangedOnDisk | None:
        """Look at the file now: None when it holds what Steward last read or wrote."""
        settings_file = self._runtime.settings_file
        if not await asyncio.to_thread(settings_file.changed_outside):
            return None
        result = await asyncio.to_thread(settings_file.check)
        if result.unusable or result.invalid:
            if result.unusable:
                reason = f"the file {result.unusable}"
            else:
                listed = "; ".join(f"{bad.path} = {bad.value}: {bad.reason}" for bad in result.invalid[:3])
                more = f" (and {len(result.invalid) - 3} more)" if len(result.invalid) > 3 else ""
                reason = f"{listed}{more}"
            event = SettingsChangedOnDisk(wall_time(), None, str(self.path), applied=False, detail=reason)
            self.pending = event
        else:
            changed = changed_keys(self._runtime.settings, result.settings)
            await self._runtime.apply_settings(result.settings, save=False)
            await asyncio.to_thread(settings_file.mark_seen)
            event = SettingsChangedOnDisk(wall_time(), None, str(self.path), applied=True, changed=changed)
            self.pending = None
        log.info("%s", event.describe())
        self._runtime.engine.publish(event)
        return event

    async def keep_ours(self) -> None:
        """The user keeps the app's settings over a refused outside edit: write them over it."""
        await asyncio.to_thread(self._runtime.settings_file.mark_seen)
        await asyncio.to_thread(self._runtime.settings_file.save, self._runtime.settings)
        self.pending = None
