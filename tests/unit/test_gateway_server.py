"""The gateway's socket and protocol choices (no server started here)."""

from __future__ import annotations

import socket

import pytest

from steward.gateway.guard import host_name, is_loopback_host
from steward.gateway.server import bind, http_protocol


def test_the_listening_socket_is_tcp_so_connections_get_nodelay() -> None:
    """asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP; a socket made with
    socket.socket() has proto 0 and its connections then stall on Nagle + delayed ACK (~40 ms)."""
    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP and sock.getsockname()[0] == "127.0.0.1"
        assert not sock.getblocking()
    finally:
        sock.close()


def test_a_taken_port_and_an_unknown_host_are_os_errors() -> None:
    taken = bind("127.0.0.1", 0)
    taken.listen()
    try:
        with pytest.raises(OSError) as caught:
            bind("127.0.0.1", taken.getsockname()[1])
        assert caught.value.strerror
    finally:
        taken.close()
    with pytest.raises(OSError, match="cannot resolve"):
        bind("no-such-host.invalid", 0)


def test_protocol_choice() -> None:
    assert http_protocol("h11").__name__ == "H11Protocol"
    assert http_protocol("auto").__name__ in ("HttpToolsProtocol", "H11Protocol")


@pytest.mark.parametrize(
    ("header", "loopback"),
    [
        ("127.0.0.1:11480", True),
        ("localhost:11480", True),
        ("LOCALHOST", False),  # lowered by the guard before the check
        ("[::1]:11480", True),
        ("127.0.0.2", True),
        ("evil.example:11480", False),
        ("127.0.0.1.evil.example:11480", False),  # a rebinding name dressed as an address
        ("0x7f.1", False),
        ("[::ffff:127.0.0.1]:11480", False),
    ],
)
def test_host_header_names(header: str, loopback: bool) -> None:
    assert is_loopback_host(host_name(header)) is loopback
