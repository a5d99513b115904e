"""The embedded default: two llama-servers on the bundled SmolLM2 when nothing else is there.

A fresh install has no configured server and usually none running. With the embedded
runtime installed (and the setting on), Steward runs the small model twice — a small window
and a large one — so chat, fallback and context fitting all have something real to work on.
"""

from __future__ import annotations

from collections.abc import Sequence

from steward.config.app_groups import EmbeddedConfig
from steward.config.settings import Settings
from steward.servers import embedded
from steward.servers.discovery import DiscoveredServer
from steward.servers.profiles import LlamaServerProfile

EMBEDDED_SMALL = "embedded-small"
EMBEDDED_LARGE = "embedded-large"
_EXTRA_ARGS = ("--no-webui",)


def embedded_profiles(
    config: EmbeddedConfig, runtime: embedded.EmbeddedRuntime | None = None
) -> list[LlamaServerProfile]:
    """The two embedded profiles (small and large window), each on a free port.

    Raises `embedded.EmbeddedRuntimeMissing` (saying what to install) without a runtime.
    """
    found = runtime or embedded.require()
    return [
        LlamaServerProfile(
            name=name,
            binary=found.llama_server,
            model=found.model,
            ctx_size=ctx,
            gpu_layers=-1,  # llama-server default: all layers on a GPU if there is one
            parallel=1,
            extra_args=_EXTRA_ARGS,
        )
        for name, ctx in ((EMBEDDED_SMALL, config.small_ctx), (EMBEDDED_LARGE, config.large_ctx))
    ]


def wants_embedded(settings: Settings, discovered: Sequence[DiscoveredServer]) -> bool:
    """True when the embedded servers should run: enabled, nothing configured, nothing discovered."""
    if not settings.embedded.enabled:
        return False
    configured = any(e.enabled for e in settings.endpoints) or bool(settings.servers)
    return not configured and not discovered


def embedded_plan(
    settings: Settings, discovered: Sequence[DiscoveredServer]
) -> tuple[list[LlamaServerProfile], str]:
    """The embedded profiles to start (maybe none) and why, for the log and `steward doctor`."""
    if not settings.embedded.enabled:
        return [], "embedded servers are turned off in settings"
    if not wants_embedded(settings, discovered):
        return [], "servers are configured or were discovered; the embedded ones are not needed"
    missing = embedded.problems()
    if missing:
        return [], "embedded runtime not installed: " + "; ".join(missing)
    return embedded_profiles(
        settings.embedded
    ), "no server configured or discovered: running the embedded ones"
