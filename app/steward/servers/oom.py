"""Out-of-memory recovery for llama-server: spot the signature in its log, shrink, retry.

The KV cache grows with the context window, so halving the window (and, on a GPU, the
offloaded layers) is the cheapest way to make a model fit. Below `floor` tokens a model is
of little use, so recovery gives up there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from steward.servers.profiles import LlamaServerProfile

OOM_PATTERNS = re.compile(
    r"out of memory|failed to allocate|unable to allocate|cudaMalloc failed|"
    r"cannot allocate memory|insufficient memory|std::bad_alloc|requires more system memory",
    re.IGNORECASE,
)
DEFAULT_CTX_FLOOR = 512
UNKNOWN_CTX_START = 4096
"""A profile with ctx 0 (the model's own window, unknown here) first retries at this size."""


def oom_signature(lines: Iterable[str]) -> str | None:
    """The first log line that says memory ran out, or None."""
    for line in lines:
        if OOM_PATTERNS.search(line):
            return line.strip()
    return None


def shrink_for_oom(profile: LlamaServerProfile, floor: int = DEFAULT_CTX_FLOOR) -> LlamaServerProfile | None:
    """`profile` with half the context and half the GPU layers (when set), or None below `floor`."""
    current = profile.ctx_size if profile.ctx_size > 0 else UNKNOWN_CTX_START * 2
    new_ctx = current // 2
    if new_ctx < floor:
        return None
    layers = profile.gpu_layers // 2 if profile.gpu_layers > 0 else profile.gpu_layers
    return replace(profile, ctx_size=new_ctx, gpu_layers=layers)
