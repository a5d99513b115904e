"""Endpoints the user configures by hand: add, edit, remove, test.

The API key goes to the OS keyring (never the settings file) under `endpoint-<id>`; the settings
entry names that keyring entry; the backend is routed to at once. Removing an endpoint removes its
backend, its settings entry and its key.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from steward.backends.factory import make_backend
from steward.config import SecretsUnavailable, Settings
from steward.engine.failures import BackendError, FailureKind, policy_for
from steward.engine.types import ServerState
from steward.runtime import Runtime
from steward.servers.discovery import CONNECT_TIMEOUT_S, DiscoveredServer, identify, make_probe_client
from steward.servers.reach import connect_limit

if TYPE_CHECKING:
    from steward.service.service import Applied

log = logging.getLogger(__name__)
Problems = list[tuple[str, str]]


@dataclass(frozen=True)
class EndpointCheck:
    """What answered at an address: the server's state, kind, version and models, or the failure
    in words (`summary` is the one line a dialog shows)."""

    ok: bool
    summary: str
    models: tuple[str, ...] = ()
    kind: str = ""
    """What the server looks like from its answers ("llama.cpp", "Ollama", "LM Studio", ...)."""
    version: str | None = None


# Kinds discovery tells apart that all speak the OpenAI protocol.
_SPEAKS_OPENAI = {"lmstudio", "vllm", "openai"}


def key_ref(endpoint_id: str) -> str:
    return f"endpoint-{endpoint_id}"


class EndpointActions:
    """Add / edit / remove / test configured endpoints (used through `StewardService.endpoints`)."""

    def __init__(
        self,
        runtime: Runtime,
        apply: Callable[[Settings], Awaitable[Applied]],
        validate: Callable[[Mapping[str, object]], tuple[Settings | None, Problems]],
    ) -> None:
        self._runtime = runtime
        self._apply = apply
        self._validate = validate

    def _entries(self) -> list[dict[str, object]]:
        return [e.model_dump(mode="python") for e in self._runtime.settings.endpoints]

    def check_edit(self, endpoint_id: str, kind: str, url: str, enabled: bool = True) -> Problems:
        """What is wrong with changing endpoint `endpoint_id`, without doing anything."""
        entries = self._entries()
        index = next((i for i, e in enumerate(entries) if e["id"] == endpoint_id), None)
        if index is None:
            return [("id", f"no endpoint named {endpoint_id!r}")]
        with_key = bool(entries[index].get("api_key_ref"))
        return self._candidate(entries, index, endpoint_id, kind, url, with_key, enabled)[1]

    def check(self, endpoint_id: str, kind: str, url: str) -> Problems:
        """What is wrong with a new endpoint, without doing anything (for a dialog's inline errors)."""
        entries = self._entries()
        if any(e["id"] == endpoint_id for e in entries):
            return [("id", f"an endpoint named {endpoint_id!r} exists already")]
        _, problems = self._candidate(entries, len(entries), endpoint_id, kind, url, False, True)
        return problems

    async def add(self, endpoint_id: str, kind: str, url: str, api_key: str = "") -> Problems:
        """Store the key, save the entry, route to the server; problems (field, reason) when invalid."""
        entries = self._entries()
        if any(e["id"] == endpoint_id for e in entries):
            return [("id", f"an endpoint named {endpoint_id!r} exists already")]
        return await self._save(entries, len(entries), endpoint_id, kind, url, api_key)

    async def edit(
        self, endpoint_id: str, kind: str, url: str, api_key: str | None = None, enabled: bool = True
    ) -> Problems:
        """Change an endpoint (`api_key` None keeps the stored key, "" removes it)."""
        entries = self._entries()
        index = next((i for i, e in enumerate(entries) if e["id"] == endpoint_id), None)
        if index is None:
            return [("id", f"no endpoint named {endpoint_id!r}")]
        had_key = bool(entries[index].get("api_key_ref"))
        keep_key = api_key is None and had_key
        problems = await self._save(entries, index, endpoint_id, kind, url, api_key or "", keep_key, enabled)
        if not problems and had_key and api_key == "":
            await self._forget_key(endpoint_id)
        return problems

    async def remove(self, endpoint_id: str) -> Problems:
        """Stop routing to it, delete its settings entry and its keyring entry."""
        entries = self._entries()
        kept = [e for e in entries if e["id"] != endpoint_id]
        if len(kept) == len(entries):
            return [("id", f"no endpoint named {endpoint_id!r}")]
        had_key = any(e["id"] == endpoint_id and e.get("api_key_ref") for e in entries)
        new, problems = self._validate({"endpoints": kept})
        if new is None:
            return problems
        applied = await self._apply(new)
        if not applied.ok:
            return applied.problems
        await self._runtime.remove_endpoint(endpoint_id)
        if had_key:
            await self._forget_key(endpoint_id)
        return []

    async def _forget_key(self, endpoint_id: str) -> None:
        """Delete the endpoint's keyring entry; an unusable keyring leaves nothing to delete."""
        try:
            await asyncio.to_thread(self._runtime.secrets.delete, key_ref(endpoint_id))
        except SecretsUnavailable as exc:
            log.warning(
                "endpoint %s: its API key could not be deleted from the keyring: %s", endpoint_id, exc
            )

    async def test_configured(
        self, endpoint_id: str, kind: str | None = None, url: str | None = None
    ) -> EndpointCheck:
        """`test` a configured endpoint as routing sees it (its stored API key included), or with
        another `kind`/`url` and the same key (an edit dialog testing before it saves)."""
        endpoint = next((e for e in self._runtime.settings.endpoints if e.id == endpoint_id), None)
        if endpoint is None:
            return EndpointCheck(False, f"no endpoint named {endpoint_id!r}")
        key = None
        if endpoint.api_key_ref:
            key = await asyncio.to_thread(self._runtime.secrets.get, endpoint.api_key_ref)
        return await self.test(kind or endpoint.kind, url or endpoint.base_url, key or "")

    async def test(self, kind: str, url: str, api_key: str = "") -> EndpointCheck:
        """Ask the address what it is, with the same adapter and timeouts routing would use, and
        what it says it is (kind, version) the way discovery recognises servers."""
        found, check = await asyncio.gather(self._identify(url), self._ask(kind, url, api_key))
        if not check.ok or found is None:
            return check
        said = found.detail.split(",", 1)[0] or found.kind
        version = f" {found.version}" if found.version else ""
        mismatch = ""
        if found.kind != kind and not (found.kind in _SPEAKS_OPENAI and kind == "openai"):
            mismatch = f" (it answers like a {found.kind} server, configured as {kind})"
        summary = f"{said}{version}: {check.summary}{mismatch}"
        return replace(check, summary=summary, kind=said, version=found.version)

    async def _identify(self, url: str) -> DiscoveredServer | None:
        parts = urlsplit(url)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return None
        t = self._runtime.settings.timeouts
        connect_s = connect_limit(url, min(t.probe_s, CONNECT_TIMEOUT_S), t.remote_connect_s)
        timeout = t.probe_s + connect_s
        try:
            async with make_probe_client(t.probe_s, connect_s=connect_s) as client, asyncio.timeout(timeout):
                return await identify(client, url.rstrip("/").removesuffix("/v1"), port)
        except (TimeoutError, OSError, httpx.HTTPError):
            return None

    async def _ask(self, kind: str, url: str, api_key: str) -> EndpointCheck:
        t = self._runtime.settings.timeouts
        try:
            backend = make_backend(
                kind,
                "test",
                url,
                api_key=api_key or None,
                connect_s=connect_limit(url, t.connect_s, t.remote_connect_s),
                stall_s=t.probe_s,
                aux_s=t.probe_s,
            )
        except ValueError as exc:
            return EndpointCheck(False, str(exc))
        try:
            probe = await backend.probe()
            if probe.state is ServerState.DOWN:
                return EndpointCheck(False, f"not reachable: {_in_words(probe.detail)}")
            try:
                models = tuple(m.name for m in await backend.list_models())
            except BackendError as exc:
                return EndpointCheck(False, f"answers, but listing its models failed: {_failure(exc)}")
            state = "loading a model" if probe.state is ServerState.LOADING else "up"
            count = f"{len(models)} model{'s' if len(models) != 1 else ''}"
            shown = ", ".join(models[:3]) + (", …" if len(models) > 3 else "")
            return EndpointCheck(
                True, f"{kind} server {state}, {count}" + (f": {shown}" if shown else ""), models
            )
        finally:
            await backend.aclose()

    async def _save(
        self,
        entries: list[dict[str, object]],
        index: int,
        endpoint_id: str,
        kind: str,
        url: str,
        api_key: str,
        keep_key: bool = False,
        enabled: bool = True,
    ) -> Problems:
        new, problems = self._candidate(
            entries, index, endpoint_id, kind, url, bool(api_key) or keep_key, enabled
        )
        if new is None:
            return problems
        if api_key:
            try:
                await asyncio.to_thread(self._runtime.secrets.set, key_ref(endpoint_id), api_key)
            except (SecretsUnavailable, ValueError) as exc:
                return [("api_key", f"the API key was not stored, so nothing was saved: {exc}")]
        applied = await self._apply(new)
        if not applied.ok:
            return applied.problems
        config = new.endpoints[index]
        stored: str | None = api_key or None
        if stored is None and keep_key:
            stored = await asyncio.to_thread(self._runtime.secrets.get, key_ref(endpoint_id))
        await self._runtime.remove_endpoint(endpoint_id)
        await self._runtime.add_endpoint(config, stored or None)
        return []

    def _candidate(
        self,
        entries: list[dict[str, object]],
        index: int,
        endpoint_id: str,
        kind: str,
        url: str,
        with_key: bool,
        enabled: bool,
    ) -> tuple[Settings | None, Problems]:
        """Settings with the entry at `index` (new or replaced); its problems named relative to it."""
        entry: dict[str, object] = {"id": endpoint_id, "kind": kind, "base_url": url, "enabled": enabled}
        if with_key:
            entry["api_key_ref"] = key_ref(endpoint_id)
        new, problems = self._validate({"endpoints": [*entries[:index], entry, *entries[index + 1 :]]})
        prefix = f"endpoints[{index}]"
        return new, [(p.removeprefix(prefix).lstrip("."), r) for p, r in problems]


def _failure(exc: BackendError) -> str:
    return f"{policy_for(exc.kind).description} ({exc.detail})"


def _in_words(detail: str) -> str:
    """A probe's "kind: detail" with the kind said in words."""
    kind, _, rest = detail.partition(": ")
    try:
        words = policy_for(FailureKind(kind)).description
    except ValueError:
        return detail
    return f"{words} ({rest})" if rest else words
