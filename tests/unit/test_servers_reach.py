"""Where a server is, read from its address alone (issue 15, item 6)."""

from __future__ import annotations

import pytest

from steward.servers.reach import connect_limit, reach_of


@pytest.mark.parametrize(
    ("url", "reach"),
    [
        ("http://127.0.0.1:8080", "loopback"),
        ("http://127.3.4.5:8080", "loopback"),
        ("http://[::1]:11434", "loopback"),
        ("http://localhost:1234/v1", "loopback"),
        ("http://api.localhost:8000", "loopback"),
        ("http://0.0.0.0:8080", "loopback"),
        ("http://[::ffff:127.0.0.1]:8080", "loopback"),
        ("http://192.168.1.20:11434", "lan"),
        ("http://10.0.0.7:8000", "lan"),
        ("http://172.20.0.3:8080", "lan"),
        ("http://100.101.102.103:11434", "lan"),  # Tailscale / CGNAT
        ("http://[fd12:3456::1]:8080", "lan"),
        ("http://[fe80::1%25eth0]:8080", "lan"),
        ("http://gpu-box:8080", "lan"),
        ("http://ollama:11434", "lan"),  # a docker compose service
        ("http://llama.default.svc.cluster.local:8080", "lan"),
        ("http://host.docker.internal:11434", "lan"),
        ("http://studio.local:1234", "lan"),
        ("https://api.example.com/v1", "remote"),
        ("http://8.8.8.8:80", "remote"),
        ("http://[2606:4700:4700::1111]:8080", "remote"),
        ("not a url", "remote"),
        ("", "remote"),
    ],
)
def test_reach_is_read_from_the_address(url: str, reach: str) -> None:
    assert reach_of(url) == reach


@pytest.mark.parametrize(
    ("url", "limit"),
    [
        ("http://127.0.0.1:8080", 3.0),
        ("http://localhost:11434", 3.0),
        ("http://[::1]:8080", 3.0),
        ("http://192.168.1.20:11434", 10.0),
        ("http://gpu-box:8080", 10.0),
        ("https://api.example.com/v1", 10.0),
    ],
)
def test_servers_off_this_computer_get_the_longer_connect_limit(url: str, limit: float) -> None:
    assert connect_limit(url, local_s=3.0, remote_s=10.0) == limit
