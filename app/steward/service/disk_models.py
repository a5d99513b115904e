"""The service side of "every model on disk": scan (in a worker thread), serve one file as a
managed llama-server with a context chosen from the fit, and add or remove the user's folders.

The scan's blocking work (walking folders, reading GGUF metadata, detecting the hardware) runs in
`asyncio.to_thread`; scans never overlap (a second one waits for the first and then reads only
what changed, thanks to the cache in Steward's data dir).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from steward import paths
from steward.hardware.context_fit import STEP, context_words
from steward.hardware.detect import detect_hardware
from steward.hardware.disk_cache import SpecCache
from steward.hardware.disk_models import (
    CPU,
    GPU,
    DiskModel,
    DiskScan,
    ReadSpec,
    fit_targets,
    read_here,
    scan_disk,
)
from steward.hardware.gguf_meta import spec_from_gguf
from steward.hardware.model_roots import known_roots
from steward.servers import embedded
from steward.servers.managed import ServerStatus

if TYPE_CHECKING:
    from steward.service.service import StewardService

log = logging.getLogger(__name__)

Problems = list[tuple[str, str]]

SERVE_CEILING = 32_768
"""The largest context "Serve" picks: more costs memory and prompt time few chats need."""
CACHE_FILE = "disk_models.json"
_NOT_ID = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ServePlan:
    """The managed profile "Serve" would add for a file, and why its context is what it is."""

    profile: dict[str, object]
    context: int
    why: str


def scan_this_machine(
    folders: list[str],
    *,
    env: Mapping[str, str] | None = None,
    cache_path: Path | None = None,
    read_spec: ReadSpec | None = None,
) -> DiskScan:
    """Scan the known model folders and `folders` with this machine's fit targets (blocking).

    New files are read with `read_spec` (default: `gguf_meta.spec_from_gguf`)."""
    steward_dirs = [paths.data_dir() / "models", paths.cache_dir() / "models"]
    roots = known_roots(steward_dirs, embedded.find_model(), folders, env)
    cache = SpecCache(cache_path or paths.data_dir() / CACHE_FILE).load()
    read_many = read_here(read_spec or spec_from_gguf)
    return scan_disk(roots, cache, fit_targets(detect_hardware()), read_many=read_many)


def serve_choice(model: DiskModel) -> tuple[int, int, str] | str:
    """(context, GPU layers, why) for serving `model`, or why it cannot be served: the largest
    context that fits (already at most its trained context), capped at SERVE_CEILING; all layers
    on a GPU that holds it whole, none when only the CPU's RAM does (-1: the server's default,
    for unified memory)."""
    if model.error is not None:
        return f"{model.name} cannot be read: {model.error}"
    best = model.best
    if best is None:
        return f"{model.name} won't fit this machine, not even with a {STEP}-token context"
    context = min(best.context, SERVE_CEILING)
    if context == model.trained_context:
        reason = "its whole trained context fits"
    elif context == SERVE_CEILING:
        reason = f"capped at {context_words(SERVE_CEILING)} (more fits, but few chats need it)"
    else:
        reason = "the largest that fits"
    where = f"all layers on {best.target}" if best.kind == GPU else f"in {best.target}"
    gpu_layers = 999 if best.kind == GPU else 0 if best.kind == CPU else -1
    return context, gpu_layers, f"context {context:,} tokens {where}: {reason}"


def unique_name(model_name: str, taken: set[str]) -> str:
    """A server name from the model's ("qwen2.5:7b" -> "qwen2.5-7b") that is not in `taken`."""
    base = _NOT_ID.sub("-", model_name).strip("-._")[:48].rstrip("-._") or "model"
    name, number = base, 2
    while name in taken:
        name, number = f"{base}-{number}", number + 1
    return name


class DiskModels:
    """Scan, serve, and the user's model folders (`service.disk_models`)."""

    def __init__(
        self,
        service: StewardService,
        *,
        cache_path: Path | None = None,
        env: Mapping[str, str] | None = None,
        read_spec: ReadSpec | None = None,
    ) -> None:
        self._service = service
        self.cache_path = cache_path
        self.env = env
        self.read_spec = read_spec
        self.last: DiskScan | None = None
        self._lock = asyncio.Lock()

    async def scan(self) -> DiskScan:
        """Every model file on this disk with its fit (blocking parts in a worker thread)."""
        folders = list(self._service.settings.discovery.model_folders)
        async with self._lock:
            self.last = await asyncio.to_thread(self._scan, folders)
        return self.last

    async def scan_or_reason(self) -> DiskScan | str:
        """`scan`, or why it failed in words (for a page that shows either)."""
        try:
            return await self.scan()
        except Exception as exc:
            log.warning("disk scan failed: %s", exc, exc_info=True)
            return f"the scan failed: {exc}"

    def _scan(self, folders: list[str]) -> DiskScan:
        return scan_this_machine(folders, env=self.env, cache_path=self.cache_path, read_spec=self.read_spec)

    # --- serving -------------------------------------------------------------------------------

    def plan(self, model: DiskModel) -> ServePlan | str:
        """The managed llama-server profile for `model`, or why it cannot be served."""
        choice = serve_choice(model)
        if isinstance(choice, str):
            return choice
        context, gpu_layers, why = choice
        profile: dict[str, object] = {
            "name": self.unique_name(model.name),
            "model_path": model.path,
            "ctx_size": context,
            "port": 0,  # a free port, picked at the first start and kept
            "gpu_layers": gpu_layers,
        }
        return ServePlan(profile, context, why)

    def unique_name(self, model_name: str) -> str:
        """A server name for `model_name` that no endpoint, profile or discovered server has."""
        settings = self._service.settings
        taken = {e.id for e in settings.endpoints} | {s.name for s in settings.servers}
        return unique_name(model_name, taken | {s.id for s in self._service.runtime.known})

    async def serve(self, model: DiskModel) -> tuple[Problems, ServerStatus | None, ServePlan | None]:
        """Add and start a managed llama-server for `model` (see `plan`)."""
        plan = self.plan(model)
        if isinstance(plan, str):
            return [("", plan)], None, None
        problems, status = await self._service.add_managed(plan.profile)
        return problems, status, plan

    # --- the user's folders ----------------------------------------------------------------------

    def check_folder(self, folder: str) -> Problems:
        """Why `folder` cannot be added (not a folder, already listed, invalid); [] when it can."""
        if not os.path.isdir(os.path.expanduser(folder)):
            return [("discovery.model_folders", f"{folder} is not a folder")]
        return self._service.validate({"discovery.model_folders": self._folders_with(folder)})[1]

    async def add_folder(self, folder: str) -> Problems:
        """Scan `folder` from now on (saved in the settings)."""
        problems = self.check_folder(folder)
        if problems:
            return problems
        return await self._change({"discovery.model_folders": self._folders_with(folder)})

    async def remove_folder(self, folder: str) -> Problems:
        kept = [f for f in self._service.settings.discovery.model_folders if f != folder]
        return await self._change({"discovery.model_folders": kept})

    def _folders_with(self, folder: str) -> list[str]:
        return [*self._service.settings.discovery.model_folders, folder]

    async def _change(self, changes: Mapping[str, object]) -> Problems:
        return (await self._service.apply(changes)).problems
