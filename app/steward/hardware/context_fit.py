"""The largest context a model fits with on a budget, and its memory in plain words.

Memory grows monotonically with the context (caches, attention mask), so a binary search over
multiples of 256 cells — llama.cpp pads the context to 256 anyway — finds the largest window
that still runs (any placement: GPU, partial or CPU), capped at the model's trained context.
"""

from __future__ import annotations

from steward.hardware.fit import FitLabel, MemoryBudget, MemoryEstimate, RuntimeCosts, estimate_fit
from steward.hardware.gpu import format_bytes
from steward.hardware.spec import ModelSpec

STEP = 256
FALLBACK_LIMIT = 131072  # when a model does not say what it was trained for


def max_fitting_context(
    spec: ModelSpec,
    budget: MemoryBudget,
    *,
    correction: float = 1.0,
    costs: RuntimeCosts | None = None,
    limit: int | None = None,
    full_gpu: bool = False,
) -> int:
    """The largest context (a multiple of 256, at most `limit` or the trained context) that fits;
    0 when not even 256 tokens do. With `full_gpu` only a full GPU offload counts ("does it fit
    this GPU's VRAM"), not a partial one or the CPU."""
    top = (limit or spec.trained_context or FALLBACK_LIMIT) // STEP

    def runs(steps: int) -> bool:
        fit = estimate_fit(spec, steps * STEP, budget, correction=correction, costs=costs)
        return fit.label is FitLabel.FULL_GPU if full_gpu else fit.runs

    if top < 1 or not runs(1):
        return 0
    low, high = 1, top  # runs(low) holds; find the last step that runs
    while low < high:
        mid = (low + high + 1) // 2
        if runs(mid):
            low = mid
        else:
            high = mid - 1
    return low * STEP


def context_words(tokens: int) -> str:
    """131072 -> "128k", 1536 -> "1.5k", 512 -> "512"."""
    if tokens < 1024:
        return str(tokens)
    k = tokens / 1024
    return f"{k:.0f}k" if k == int(k) else f"{k:.1f}k"


def fits_with_text(tokens: int, trained: int | None = None) -> str:
    """ "fits with 32k context (its maximum)" / "doesn't fit, even with a 256-token context"."""
    if tokens <= 0:
        return f"doesn't fit, even with a {STEP}-token context"
    full = " (its maximum)" if trained and tokens >= trained else ""
    return f"fits with {context_words(tokens)} context{full}"


def breakdown_text(memory: MemoryEstimate) -> str:
    """ "weights 4.6 GiB, KV cache 1.0 GiB, compute buffers 300 MiB, runtime 60 MiB" (plain words)."""
    parts = [f"weights {format_bytes(memory.weights)}", f"KV cache {format_bytes(memory.kv_cache)}"]
    if memory.checkpoints:
        parts.append(f"saved context checkpoints {format_bytes(memory.checkpoints)}")
    parts += [f"compute buffers {format_bytes(memory.compute)}", f"runtime {format_bytes(memory.runtime)}"]
    return ", ".join(parts)


def fit_sentence(
    name: str, context: int, memory: MemoryEstimate, max_context: int, trained: int | None
) -> str:
    """The plain-words summary pages show: need at `context`, where it goes, how far it stretches."""
    return (
        f"{name} at {context_words(context)} context needs about {format_bytes(memory.total)}: "
        f"{breakdown_text(memory)}. On this machine it {fits_with_text(max_context, trained)}."
    )
