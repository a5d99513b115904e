"""The embedded default: two llama-servers on the bundled SmolLM2.

With the embedded runtime installed (and the setting on), Steward runs the small model twice —
a small window and a large one — so chat, fallback and context fitting always have something
real to work on. By default they run alongside any other server; set to run "only when nothing
else answers", they start only if no other server ANSWERED at start (a configured endpoint that
is down never keeps them off).
"""

from __future__ import annotations

from collections.abc import Sequence

from steward.config.app_groups import EMBEDDED_ALONGSIDE, EmbeddedConfig
from steward.config.settings import Settings
from steward.servers import embedded
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


def wants_embedded(settings: Settings, answering: Sequence[str]) -> bool:
    """True when the embedded servers should run: enabled, and either set to run alongside other
    servers or (set to run only when alone) no other server answered. `answering` names the
    servers that answered at start — configured-but-down ones are not in it."""
    if not settings.embedded.enabled:
        return False
    return settings.embedded.run == EMBEDDED_ALONGSIDE or not answering


def embedded_plan(settings: Settings, answering: Sequence[str]) -> tuple[list[LlamaServerProfile], str]:
    """The embedded profiles to start (maybe none) and why, in words (after "embedded servers: ")
    for the Servers page and the log."""
    if not settings.embedded.enabled:
        return [], "turned off in settings"
    if not wants_embedded(settings, answering):
        shown = ", ".join(answering[:3]) + (", …" if len(answering) > 3 else "")
        return [], f"not started because {shown} answered"
    missing = embedded.problems()
    if missing:
        return [], "not installed: " + "; ".join(missing)
    if settings.embedded.run == EMBEDDED_ALONGSIDE:
        why = "running alongside any other servers"
    else:
        why = "running because no other server answered"
    return embedded_profiles(settings.embedded), why
