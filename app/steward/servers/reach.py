"""Where a server is, from its address alone (no DNS lookup, no probe): this computer, the local
network, or somewhere else. Shown next to every endpoint, so a GPU box on the LAN or a remote
service never passes for a local server (issue 15, item 6)."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal
from urllib.parse import urlsplit

Reach = Literal["loopback", "lan", "remote"]

_CGNAT = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT, also Tailscale's addresses
# Names that only resolve inside a home, office, container or cluster network.
_LAN_SUFFIXES = (".local", ".lan", ".home", ".home.arpa", ".internal", ".intranet", ".svc", ".cluster.local")
_LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost", "ip6-loopback"})
_HOST_NAME = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")

WORDS: dict[Reach, str] = {"loopback": "this computer", "lan": "local network", "remote": "remote"}


def reach_of(url: str) -> Reach:
    """The reach of the server at `url` ("remote" when the address cannot be read)."""
    try:
        host = (urlsplit(url if "//" in url else f"//{url}").hostname or "").rstrip(".").lower()
    except ValueError:
        return "remote"
    if not host:
        return "remote"
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return "loopback"
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])  # drop an IPv6 zone ("fe80::1%eth0")
    except ValueError:
        if not _HOST_NAME.fullmatch(host):
            return "remote"  # not a host name at all
        # A single-label name ("gpu-box", a docker compose or k8s service such as "ollama") or a
        # local-only suffix names the local network; any other name is somewhere else.
        if "." not in host or host.endswith(_LAN_SUFFIXES):
            return "lan"
        return "remote"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback or address.is_unspecified:
        return "loopback"
    if address.is_private or address.is_link_local or address in _CGNAT:
        return "lan"
    return "remote"


def connect_limit(url: str, local_s: float, remote_s: float) -> float:
    """The connect timeout for the server at `url`: `local_s` on this computer, `remote_s` for a
    server on the local network or further away (a LAN box on Wi-Fi or VPN needs longer than
    loopback; a dead loopback port refuses at once anyway)."""
    return local_s if reach_of(url) == "loopback" else remote_s
