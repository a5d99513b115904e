"""SecretStore: keys in a keyring backend; a missing or locked keyring degrades with a clear message."""

from __future__ import annotations

import logging

import keyring
import keyring.backends.fail
import keyring.errors
import pytest
from keyring.backend import KeyringBackend
from tests.support.fake_keyring import FakeKeyring

from steward.config import NO_BACKEND_MESSAGE, SecretStore, SecretsUnavailable
from steward.config.secrets import LOCKED_MESSAGE, SERVICE

SECRET = "sk-test-0123456789abcdef"


class FakeLeakyKeyring(FakeKeyring):
    """A fake keyring whose error message (badly) repeats the password it was given."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.PasswordSetError(f"cannot store {password!r}")


def test_set_get_delete_round_trip_under_steward_service() -> None:
    backend = FakeKeyring()
    store = SecretStore(backend)
    store.set("lms-key", SECRET)
    assert backend.entries == {(SERVICE, "lms-key"): SECRET}
    assert store.get("lms-key") == SECRET
    assert store.delete("lms-key") is True
    assert store.get("lms-key") is None
    assert store.delete("lms-key") is False
    assert store.problem is None
    assert store.available()


def test_no_keyring_backend_gives_clear_message_and_no_crash() -> None:
    store = SecretStore(keyring.backends.fail.Keyring())
    assert store.available() is False
    assert store.get("lms-key") is None
    assert str(store.problem) == NO_BACKEND_MESSAGE
    with pytest.raises(SecretsUnavailable, match="no OS keyring backend: install/unlock one"):
        store.set("lms-key", SECRET)
    with pytest.raises(SecretsUnavailable, match="API keys cannot be stored"):
        store.delete("lms-key")


def test_default_backend_failing_to_load_counts_as_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> KeyringBackend:
        raise keyring.errors.InitError("no D-Bus session")

    monkeypatch.setattr(keyring, "get_keyring", broken)
    store = SecretStore()
    assert store.get("k") is None
    assert str(store.problem) == NO_BACKEND_MESSAGE


def test_backend_raising_no_keyring_error_is_reported() -> None:
    class FakeGoneKeyring(FakeKeyring):
        def get_password(self, service: str, username: str) -> str | None:
            raise keyring.errors.NoKeyringError("gone")

    store = SecretStore(FakeGoneKeyring())
    assert store.get("k") is None
    assert str(store.problem) == NO_BACKEND_MESSAGE


def test_locked_keyring_says_unlock() -> None:
    store = SecretStore(FakeKeyring(locked=True))
    assert store.get("k") is None
    assert str(store.problem) == LOCKED_MESSAGE
    with pytest.raises(SecretsUnavailable, match="locked"):
        store.set("k", SECRET)


def test_problem_clears_after_a_successful_call() -> None:
    backend = FakeKeyring(locked=True)
    store = SecretStore(backend)
    store.get("k")
    assert store.problem is not None
    backend.locked = False  # the user unlocked the wallet
    assert store.get("k") is None
    assert store.problem is None


def test_secret_values_never_reach_messages_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    store = SecretStore(FakeLeakyKeyring())
    with pytest.raises(SecretsUnavailable) as info:
        store.set("lms-key", SECRET)
    assert SECRET not in str(info.value)
    assert "lms-key" in str(info.value)
    assert SECRET not in caplog.text
    assert caplog.records  # the failure itself is logged, just without the value


@pytest.mark.parametrize("key", ["", "x" * 257])
def test_bad_key_names_are_rejected(key: str) -> None:
    with pytest.raises(ValueError, match="key name"):
        SecretStore(FakeKeyring()).get(key)


def test_empty_secret_is_rejected() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        SecretStore(FakeKeyring()).set("k", "")
