"""API keys in the OS keyring (service "steward"), never in the settings file or the logs.

Without a usable keyring backend (headless boxes, locked wallets) Steward keeps running:
`get` returns None and records `problem`; `set`/`delete` raise `SecretsUnavailable`, whose
message tells the user what to install or unlock. Secret values never appear in messages.
"""

from __future__ import annotations

import logging

import keyring
import keyring.backends.fail
import keyring.errors
from keyring.backend import KeyringBackend

SERVICE = "steward"
NO_BACKEND_MESSAGE = (
    "no OS keyring backend: install/unlock one (e.g. gnome-keyring, KWallet), API keys cannot be stored"
)
LOCKED_MESSAGE = "the OS keyring is locked: unlock it (e.g. gnome-keyring, KWallet) to use stored API keys"

_log = logging.getLogger(__name__)


class SecretsUnavailable(Exception):
    """The keyring cannot be used; `str(exc)` is a message meant for the user."""


class SecretStore:
    """get/set/delete secrets by key name (the `api_key_ref` of an endpoint).

    `backend` is any `keyring` backend; by default the one `keyring` picks for this machine,
    resolved on first use (resolution may talk to D-Bus, so it is not done at construction).
    """

    def __init__(self, backend: KeyringBackend | None = None, *, service: str = SERVICE) -> None:
        self._backend = backend
        self._resolved = backend is not None
        self._service = service
        self._problem: SecretsUnavailable | None = None

    @property
    def problem(self) -> SecretsUnavailable | None:
        """The last reason the keyring could not be used (None while everything works)."""
        return self._problem

    def available(self) -> bool:
        """True when a real keyring backend is present (it may still be locked)."""
        try:
            self._usable_backend()
        except SecretsUnavailable:
            return False
        return True

    def get(self, key: str) -> str | None:
        """The secret stored under `key`, or None (not stored, or keyring unusable: see `problem`)."""
        _check_key(key)
        try:
            backend = self._usable_backend()
            value = backend.get_password(self._service, key)
        except SecretsUnavailable:
            return None
        except Exception as exc:  # any backend failure: degrade to "no key", never crash the caller
            self._record(_translate(exc, key, "read"))
            return None
        self._problem = None
        return value if isinstance(value, str) else None

    def set(self, key: str, value: str) -> None:
        """Store `value` under `key`. Raises `SecretsUnavailable` if it cannot be stored."""
        _check_key(key)
        if not isinstance(value, str) or not value:
            raise ValueError("a secret must be a non-empty string")
        backend = self._usable_backend()
        try:
            backend.set_password(self._service, key, value)
        except Exception as exc:
            raise self._record(_translate(exc, key, "store", secret=value)) from None
        self._problem = None

    def delete(self, key: str) -> bool:
        """Remove `key`; False if nothing was stored. Raises `SecretsUnavailable` when unusable."""
        _check_key(key)
        backend = self._usable_backend()
        try:
            backend.delete_password(self._service, key)
        except keyring.errors.PasswordDeleteError:
            return False
        except Exception as exc:
            raise self._record(_translate(exc, key, "delete")) from None
        self._problem = None
        return True

    def _usable_backend(self) -> KeyringBackend:
        if not self._resolved:
            self._resolved = True
            try:
                self._backend = keyring.get_keyring()
            except Exception:  # keyring's discovery can fail in odd ways (D-Bus, broken plugins)
                self._backend = None
        backend = self._backend
        if backend is None or isinstance(backend, keyring.backends.fail.Keyring) or not _viable(backend):
            raise self._record(SecretsUnavailable(NO_BACKEND_MESSAGE))
        return backend

    def _record(self, problem: SecretsUnavailable) -> SecretsUnavailable:
        if self._problem is None or str(self._problem) != str(problem):
            _log.warning("secret store: %s", problem)
        self._problem = problem
        return problem


def _viable(backend: KeyringBackend) -> bool:
    """Backends with priority <= 0 (the fail/null/empty chainer backends) store nothing."""
    try:
        return float(backend.priority) > 0
    except Exception:  # some backends raise from `priority` when they are not viable
        return False


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not key or len(key) > 256:
        raise ValueError("a secret key name must be a non-empty string of at most 256 characters")


def _translate(exc: Exception, key: str, action: str, secret: str | None = None) -> SecretsUnavailable:
    if isinstance(exc, keyring.errors.KeyringLocked):
        return SecretsUnavailable(LOCKED_MESSAGE)
    if isinstance(exc, keyring.errors.NoKeyringError | keyring.errors.InitError):
        return SecretsUnavailable(NO_BACKEND_MESSAGE)
    detail = str(exc) or type(exc).__name__
    if secret:
        detail = detail.replace(secret, "***")
    return SecretsUnavailable(f"could not {action} API key '{key}' in the OS keyring: {detail}")
