"""The gateway's bearer token: created on first use, kept in the OS keyring, never in settings or logs.

`STEWARD_GATEWAY_TOKEN` overrides it (headless machines, CI). Without a usable keyring and without
the variable, a token is made for this run only and the caller is told so (`where`), so the
gateway is never left open for want of a place to keep its token.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from steward.config import SecretStore, SecretsUnavailable

ENV_TOKEN = "STEWARD_GATEWAY_TOKEN"
KEYRING_NAME = "gateway-token"


@dataclass(frozen=True)
class Token:
    value: str
    where: str
    """"environment", "keyring" or "this run only (no OS keyring)"."""

    def matches(self, offered: str) -> bool:
        """Constant-time comparison with what a client sent."""
        return hmac.compare_digest(self.value.encode(), offered.encode())

    def __repr__(self) -> str:  # never shown by accident
        return f"Token(where={self.where!r})"


class GatewayToken:
    """Reads, creates and regenerates the token (keyring calls run in a thread)."""

    def __init__(self, store: SecretStore, environ: Mapping[str, str] | None = None) -> None:
        self._store = store
        self._environ = os.environ if environ is None else environ
        self._current: Token | None = None

    async def get(self) -> Token:
        if self._current is None:
            self._current = await asyncio.to_thread(self._load_or_create)
        return self._current

    async def regenerate(self) -> Token:
        """A new token (old clients stop working); refused while the environment sets it."""
        if self._environ.get(ENV_TOKEN):
            raise ValueError(f"the token comes from {ENV_TOKEN}; change it there")
        self._current = await asyncio.to_thread(self._store_new)
        return self._current

    def _load_or_create(self) -> Token:
        from_env = self._environ.get(ENV_TOKEN, "").strip()
        if from_env:
            return Token(from_env, "environment")
        stored = self._store.get(KEYRING_NAME)
        if stored:
            return Token(stored, "keyring")
        return self._store_new()

    def _store_new(self) -> Token:
        value = "stw-" + secrets.token_urlsafe(32)
        try:
            self._store.set(KEYRING_NAME, value)
        except SecretsUnavailable:
            return Token(value, "this run only (no OS keyring)")
        return Token(value, "keyring")
