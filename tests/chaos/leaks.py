"""What the soak may leave behind: sockets of this process to the servers, llama-server processes, tasks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection

import psutil


def sockets_to(ports: Collection[int]) -> list[str]:
    """This process's TCP connections from or to `ports` (listeners excluded), one line each."""
    found = []
    for conn in psutil.Process().net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN:
            continue
        remote = conn.raddr.port if conn.raddr else None
        if remote in ports or conn.laddr.port in ports:
            found.append(f"{conn.laddr.port}->{remote} {conn.status}")
    return sorted(found)


def llama_servers() -> dict[int, str]:
    """Every live llama-server on the machine that this process started (directly or not), by pid.

    Also those reparented away from us (an orphan): their command line names a port we track, see
    `orphans`. Zombies count as live: a child nobody reaped is a leak too.
    """
    found: dict[int, str] = {}
    for child in psutil.Process().children(recursive=True):
        try:
            if "llama-server" in child.name():
                found[child.pid] = child.status()
        except psutil.NoSuchProcess:
            continue
    return found


def orphans(ports: Collection[int], exclude: Collection[int]) -> list[int]:
    """llama-server processes anywhere that serve one of `ports` (however their parent changed)."""
    pids = []
    for proc in psutil.process_iter(["pid", "name", "cmdline"]):
        try:
            cmdline = proc.info["cmdline"] or []
            if "llama-server" not in (proc.info["name"] or "") or proc.pid in exclude:
                continue
            if any(cmdline[i] == "--port" and int(cmdline[i + 1]) in ports for i in range(len(cmdline) - 1)):
                pids.append(proc.pid)
        except (psutil.NoSuchProcess, ValueError):
            continue
    return pids


async def settle(done: Callable[[], bool], within_s: float) -> None:
    """Give asynchronous closes up to `within_s` to land (the answer is read afterwards)."""
    for _ in range(max(1, round(within_s * 10))):
        if done():
            return
        await asyncio.sleep(0.1)
