"""An in-memory keyring backend: a FAKE standing in for gnome-keyring / KWallet (none exists here)."""

from __future__ import annotations

import keyring.errors
from keyring.backend import KeyringBackend


class FakeKeyring(KeyringBackend):
    """In-memory keyring backend (a fake, standing in for gnome-keyring / KWallet)."""

    priority = 1

    def __init__(self, *, locked: bool = False) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}
        self.locked = locked

    def get_password(self, service: str, username: str) -> str | None:
        if self.locked:
            raise keyring.errors.KeyringLocked("locked")
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        if self.locked:
            raise keyring.errors.KeyringLocked("locked")
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.entries:
            raise keyring.errors.PasswordDeleteError("not found")
        del self.entries[(service, username)]
