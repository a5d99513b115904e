"""Loopback ports for managed servers: is one free, who holds it, pick a free one.

A server that cannot bind its port dies with a line buried in its log; checking first lets
Steward say "port 8080 is in use by pid 4242 (python3 -m http.server 8080)" instead.
"""

from __future__ import annotations

import socket

import psutil


class PortInUse(RuntimeError):
    """The port a managed server needs is taken; the message names the holder when visible."""

    def __init__(self, host: str, port: int, holder: str) -> None:
        super().__init__(f"port {port} on {host} is already in use by {holder}")
        self.host = host
        self.port = port
        self.holder = holder


def port_is_free(host: str, port: int) -> bool:
    """True when a listening socket could bind `host:port` now.

    SO_REUSEADDR is set as servers set it, so lingering TIME_WAIT connections do not
    count as "in use"; on Linux a live listener still does.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def pick_free_port(host: str = "127.0.0.1") -> int:
    """A port that is free right now (the OS's choice)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def describe_process(pid: int) -> str:
    """'pid N (command line)', or just 'pid N' when the process cannot be inspected."""
    try:
        proc = psutil.Process(pid)
        command = " ".join(proc.cmdline()) or proc.name()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return f"pid {pid}"
    return f"pid {pid} ({command[:200]})"


def port_holder(port: int) -> str:
    """Who listens on `port`, for error messages; says so when the OS will not tell."""
    try:
        connections = psutil.net_connections(kind="inet")
    except psutil.AccessDenied:
        return "another process (not permitted to see which)"
    holders = sorted(
        {
            c.pid
            for c in connections
            if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN and c.pid is not None
        }
    )
    if holders:
        return ", ".join(describe_process(pid) for pid in holders)
    if any(c.laddr and c.laddr.port == port for c in connections):
        return "a process of another user (not permitted to see which)"
    return "another process"


def check_port(host: str, port: int) -> None:
    """Raise `PortInUse` naming the holder unless `host:port` is free."""
    if not port_is_free(host, port):
        raise PortInUse(host, port, port_holder(port))
