"""One row per server for the Servers page: what the runtime knows, merged with what the
supervisor reports about the servers it runs and what the engine sees of each backend.

Qt-free: the bridge builds the rows from runtime snapshots, the page only renders them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

from steward.engine.snapshot import ModelSnapshot, ServerSnapshot
from steward.servers.discovery import KnownServer
from steward.servers.managed import ServerStatus
from steward.servers.reach import WORDS, reach_of


@dataclass(frozen=True)
class ServerRow:
    """A server as the user sees it. `managed` rows can be started, stopped and restarted."""

    name: str
    kind: str
    source: str  # "managed" | "configured" | "discovered"
    url: str
    status: str
    """The state as a word ("ready", "up", "down", "crashed", ...), for colours and logic."""
    detail: str = ""
    pid: int | None = None
    port: int | None = None
    uptime_s: float | None = None
    restarts: int | None = None
    model: str | None = None
    ctx: int | None = None
    said: str = ""
    """The status as the user reads it ("unreachable: connection refused"); `status` when empty."""
    last_exit: str = ""
    """Why a managed server last ended on its own and what followed ("killed by SIGKILL,
    restarted in 1.1 s")."""

    @property
    def managed(self) -> bool:
        return self.source == "managed"

    @property
    def reach(self) -> str:
        """Where the server is, in words: "this computer", "local network" or "remote" (from its
        address alone; servers Steward runs are always on this computer)."""
        return WORDS["loopback"] if self.managed else WORDS[reach_of(self.url)]

    @property
    def status_text(self) -> str:
        return self.said or self.status


# Probe failure kinds in the few words a status column has room for.
_SHORT = {
    "connection_refused": "connection refused",
    "connect_timeout": "connection timed out",
    "auth": "API key refused",
    "server_error": "server error",
    "bad_response": "not a model server",
    "model_not_found": "not found",
    "rate_limited": "rate limited",
}


def status_words(state: str, detail: str) -> str:
    """'down' + 'connection_refused: All connection attempts failed' -> 'unreachable: connection
    refused'; a hung probe -> 'unreachable: no answer to the health probe'; other states as they are."""
    if state == "unknown":
        return "not checked yet"
    if state != "down":
        return state
    kind = detail.partition(": ")[0]
    if kind == "hung":
        return "unreachable: no answer to the health probe"
    return f"unreachable: {_SHORT.get(kind, kind.replace('_', ' ') or 'no answer')}"


def _port_of(url: str) -> int | None:
    tail = url.rstrip("/").rsplit(":", 1)[-1].split("/", 1)[0]
    return int(tail) if tail.isdigit() else None


def server_rows(
    known: Sequence[KnownServer],
    managed: Sequence[ServerStatus],
    engine: Sequence[ServerSnapshot],
    models: Sequence[ModelSnapshot] = (),
) -> list[ServerRow]:
    """Managed servers first (also those that never got a port), then configured and discovered ones.

    Servers Steward does not run show the models (and largest window) the engine found on them.
    """
    seen = {s.server_id: s for s in engine}
    rows: list[ServerRow] = []
    for status in managed:
        rows.append(
            ServerRow(
                name=status.name,
                kind=status.kind,
                source="managed",
                url=status.base_url or "—",
                status=str(status.state),
                detail=status.detail,
                pid=status.pid,
                port=status.port,
                uptime_s=status.uptime_s,
                restarts=status.restarts,
                model=PurePath(status.model).name if status.model else None,
                ctx=status.ctx_size,
                last_exit=status.last_exit,
            )
        )
    names = {r.name for r in rows}
    for server in known:
        if server.id in names:
            continue
        backend = seen.get(server.id)
        if not server.enabled:
            state, detail = "disabled", "turned off in the settings"
        elif backend is None:
            state, detail = "unknown", "not routed to yet"
        else:
            state, detail = backend.state, backend.detail
        found = server.discovered
        mine = [m for m in models if m.server_id == server.id]
        model_names = [m.model for m in mine] or list(found.models if found is not None else ())
        windows = [m.window for m in mine if m.window]
        if any(m.load_status for m in mine):  # a llama-server router: how many of its models run
            running = sum(m.load_status == "loaded" for m in mine)
            model_names = [f"router, {running} of {len(mine)} loaded"]
        rows.append(
            ServerRow(
                name=server.id,
                kind=server.kind,
                source=server.source,
                url=server.base_url,
                status=state,
                detail=detail,
                port=found.port if found is not None else _port_of(server.base_url),
                model=", ".join(model_names) or None,
                ctx=max(windows) if windows else None,
                said=status_words(state, detail),
            )
        )
    return rows


def format_uptime(seconds: float | None) -> str:
    """3725 -> "1 h 02 min"; 42 -> "42 s"; None -> "—"."""
    if seconds is None:
        return "—"
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"
