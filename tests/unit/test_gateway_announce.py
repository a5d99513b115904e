"""What `steward serve` prints at start: the URL, and where the token lives — the token itself only
when it exists for this run only (nowhere else to find it)."""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any

import pytest

from steward.serve_cli import _announce
from steward.service.token import Token


def fake(where: str, require_token: bool = True) -> tuple[Any, Any]:
    token = Token("stw-secret-value-1234567890", where)

    async def get() -> Token:
        return token

    service = SimpleNamespace(
        settings=SimpleNamespace(gateway=SimpleNamespace(require_token=require_token)),
        gateway_token=SimpleNamespace(get=get),
        snapshot=lambda: SimpleNamespace(models=[SimpleNamespace(key="small/m")]),
    )
    return service, SimpleNamespace(url="http://127.0.0.1:11480")


@pytest.mark.parametrize(
    ("where", "shown", "says"),
    [
        ("environment", False, "STEWARD_GATEWAY_TOKEN"),
        ("keyring", False, "OS keyring"),
        ("this run only (no OS keyring)", True, "made for this run only"),
    ],
)
async def test_the_token_is_printed_only_when_it_lives_nowhere_else(
    where: str, shown: bool, says: str
) -> None:
    out = io.StringIO()
    await _announce(*fake(where), out)  # type: ignore[arg-type]
    text = out.getvalue()
    assert "listening on http://127.0.0.1:11480" in text and "http://127.0.0.1:11480/v1" in text
    assert ("stw-secret-value-1234567890" in text) is shown and says in text
    assert "small/m" in text


async def test_no_token_required() -> None:
    out = io.StringIO()
    await _announce(*fake("keyring", require_token=False), out)  # type: ignore[arg-type]
    assert "none required" in out.getvalue() and "stw-" not in out.getvalue()
