"""The gateway token: environment first, then the keyring (created once), else this run only;
never printed by repr and redacted from logs."""

from __future__ import annotations

import keyring.backends.fail
import pytest
from tests.support.fake_keyring import FakeKeyring

from steward.config import SecretStore
from steward.logs import redact
from steward.service.token import ENV_TOKEN, KEYRING_NAME, GatewayToken


async def test_created_once_in_the_keyring_and_reused() -> None:
    ring = FakeKeyring()
    first = await GatewayToken(SecretStore(ring), environ={}).get()
    assert first.where == "keyring" and first.value.startswith("stw-") and len(first.value) > 40
    again = await GatewayToken(SecretStore(ring), environ={}).get()
    assert again.value == first.value and ring.entries[("steward", KEYRING_NAME)] == first.value
    assert first.value not in repr(first)


async def test_the_environment_overrides_and_cannot_be_regenerated_here() -> None:
    token = GatewayToken(SecretStore(FakeKeyring()), environ={ENV_TOKEN: "ci-token-123"})
    got = await token.get()
    assert (got.value, got.where) == ("ci-token-123", "environment")
    assert got.matches("ci-token-123") and not got.matches("ci-token-124")
    with pytest.raises(ValueError, match=ENV_TOKEN):
        await token.regenerate()


async def test_without_a_keyring_the_token_lives_for_this_run_only() -> None:
    token = GatewayToken(SecretStore(keyring.backends.fail.Keyring()), environ={})
    got = await token.get()
    assert got.where == "this run only (no OS keyring)" and got.value.startswith("stw-")
    assert (await token.get()).value == got.value


async def test_regenerate_replaces_the_stored_token() -> None:
    ring = FakeKeyring()
    token = GatewayToken(SecretStore(ring), environ={})
    old = await token.get()
    new = await token.regenerate()
    assert new.value != old.value and ring.entries[("steward", KEYRING_NAME)] == new.value


def test_tokens_are_redacted_from_log_lines() -> None:
    line = "client sent stw-AbCdEf0123456789_xyz to /v1/models"
    assert "stw-AbCdEf" not in redact(line) and "«redacted»" in redact(line)
