"""The models area of the bridge: what the user does to a model, and model files on this disk.

Quarantine, release and reset act at once (no I/O); capabilities and the fallback chain are
settings applied through the core; load/unload and the disk scan run as asyncio tasks whose
outcomes arrive as notices and `disk_models_ready`.
"""

from __future__ import annotations

from PySide6.QtCore import Signal

from steward.gui.bridges.base import NOT_READY, SubBridge
from steward.hardware.disk_models import DiskModel
from steward.servers.models import ModelOperationError
from steward.service import Problems


class ModelsBridge(SubBridge):
    """Model actions (Models page) and the "On this disk" model files."""

    disk_models_ready = Signal(object)  # DiskScan, or why the scan failed (str)

    # --- model actions -------------------------------------------------------------------------

    def quarantine(self, key: str, reason: str, duration_s: float | None) -> None:
        if self.service is not None:
            self.service.quarantine(key, reason, duration_s)
            self._core.refresh_snapshot()

    def release(self, key: str) -> None:
        if self.service is not None:
            self.service.release(key)
            self._core.refresh_snapshot()

    def reset(self, key: str) -> None:
        if self.service is not None:
            self.service.reset(key)
            self._core.refresh_snapshot()

    def set_capabilities(self, key: str, tags: list[str]) -> Problems:
        """Save the model's capability tags (routing.capabilities) and route by them at once."""
        if self.service is None:
            return NOT_READY
        capabilities = {**self.service.settings.routing.capabilities, key: list(tags)}
        return self._core.apply_settings({"routing.capabilities": capabilities})

    def set_fallback_chain(self, keys: list[str]) -> Problems:
        """Save the fallback order (routing.fallback_chain); the engine routes by it at once."""
        return self._core.apply_settings({"routing.fallback_chain": list(keys)})

    def fallback_chain(self) -> list[str]:
        return list(self.service.settings.routing.fallback_chain) if self.service else []

    def model_ops_unsupported(self, key: str) -> str | None:
        """Why load/unload is impossible for `key`, or None when its server supports it."""
        return self.service.model_ops_unsupported(key) if self.service else "the engine is still starting"

    def model_load_actions(self, key: str) -> tuple[str | None, str | None]:
        """Why Load and why Unload are unavailable for `key` now (None = available)."""
        if self.service is None:
            return ("the engine is still starting",) * 2
        return self.service.model_load_actions(key)

    def load_model(self, key: str, load: bool = True) -> None:
        """Load (or unload) a model on a server that supports it; the outcome arrives as a notice."""
        service = self.service
        if service is None:
            return
        why = service.model_ops_unsupported(key)
        if why:
            self._core.notice.emit("warning", why)
            return

        async def go() -> None:
            try:
                await service.load_model(key, load)
            except ModelOperationError as exc:
                self._core.notice.emit("error", str(exc))
            else:
                self._core.notice.emit("info", f"{key} {'loaded' if load else 'unloaded'}")
            self._core.refresh_snapshot()

        self._core.spawn(go())

    # --- model files on this disk (Models page, "On this disk") -------------------------------

    def scan_disk_models(self) -> None:
        """Scan for GGUF files in a worker thread (metadata is read in a child process);
        `disk_models_ready` follows."""
        if self.service is not None:
            self._core.then(
                self.service.disk_models.scan_or_reason(), self.disk_models_ready.emit, "disk scan"
            )

    def serve_disk_model(self, model: DiskModel) -> tuple[bool, str]:
        """Add and start a managed llama-server for a file on disk: (taken, what was chosen or why not)."""
        plan = self.service.disk_models.plan(model) if self.service else "the engine is still starting"
        if isinstance(plan, str):
            return False, plan
        problems = self._core.servers.add_managed(plan.profile)
        if problems:
            return False, "; ".join(r for _, r in problems)
        return True, f"{plan.profile['name']}: {plan.why}; starting it (see the Servers page)"

    def add_model_folder(self, folder: str) -> Problems:
        """Scan `folder` for models from now on (saved); the settings and a rescan follow."""
        service = self.service
        problems = service.disk_models.check_folder(folder) if service else NOT_READY
        if service is not None and not problems:
            added = lambda _: (self._core.settings_changed.emit(service.settings), self.scan_disk_models())  # noqa: E731
            self._core.then(service.disk_models.add_folder(folder), added, "adding the folder")
        return problems
