"""Memory-fit estimates: will this model at this context run here, and how.

Memory = weights (+ the CPU's repacked copies) + caches as llama.cpp sizes them for the model's
architecture (`kv_cache`: sliding-window layers, per-layer KV heads, MLA, recurrent state, cache
type, slots) + the context checkpoints llama-server keeps for sliding-window/recurrent models +
compute buffers + the process runtime (`llama_costs`). It models llama-server's resident memory
once it has processed a full micro-batch (a prompt of 512+ tokens touches the whole compute
buffer) — what a server needs to keep running, not its smaller footprint right after /health.
Checked against real llama-servers within 10% (tests/integration/test_hardware_fit_real.py).
A learned correction ratio (see `corrections`) multiplies the total.

Labels follow LM Studio's wording: full GPU offload / partial offload (N of M layers) /
CPU only (with a speed class) / won't fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from steward.hardware.kv_cache import cache_layout, checkpoint_bytes
from steward.hardware.llama_costs import RuntimeCosts, compute_bytes, repacked_bytes, runtime_bytes
from steward.hardware.spec import ModelSpec

__all__ = [
    "FitEstimate",
    "FitLabel",
    "MemoryBudget",
    "MemoryEstimate",
    "RuntimeCosts",
    "SpeedClass",
    "estimate_fit",
    "estimate_memory",
    "speed_bucket",
    "speed_class",
]


class FitLabel(StrEnum):
    FULL_GPU = "full_gpu"
    PARTIAL_GPU = "partial_gpu"
    CPU_ONLY = "cpu_only"
    WONT_FIT = "wont_fit"


class SpeedClass(StrEnum):
    FAST = "fast"
    GOOD = "good"
    USABLE = "usable"
    SLOW = "slow"
    VERY_SLOW = "very slow"


@dataclass(frozen=True)
class MemoryBudget:
    """How much memory a model may use here and how fast that memory is (effective GB/s)."""

    gpu_bytes: int
    ram_bytes: int
    gpu_bandwidth_gbs: float = 0.0
    cpu_bandwidth_gbs: float = 10.0
    unified: bool = False
    gpu_label: str = "GPU"


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a model needs at one context size; `total` includes the learned correction.

    `weights` includes repacked copies, `kv_cache` every attention/recurrent cache,
    `checkpoints` the context checkpoints llama-server keeps after a prompt (sliding-window and
    recurrent models only), `context` the cells llama.cpp actually allocates (padded to 256)."""

    weights: int
    kv_cache: int
    compute: int
    runtime: int
    correction: float = 1.0
    checkpoints: int = 0
    context: int = 0

    @property
    def raw_total(self) -> int:
        return self.weights + self.kv_cache + self.checkpoints + self.compute + self.runtime

    @property
    def total(self) -> int:
        return int(self.raw_total * self.correction)


@dataclass(frozen=True)
class FitEstimate:
    """The verdict for one model at one context size on one budget."""

    label: FitLabel
    context: int
    memory: MemoryEstimate
    gpu_layers: int
    total_layers: int
    tokens_per_second: float | None
    speed: SpeedClass | None

    @property
    def runs(self) -> bool:
        return self.label is not FitLabel.WONT_FIT

    @property
    def description(self) -> str:
        """Short label text for tables ("partial GPU offload (20/32 layers)")."""
        if self.label is FitLabel.FULL_GPU:
            return "full GPU offload"
        if self.label is FitLabel.PARTIAL_GPU:
            return f"partial GPU offload ({self.gpu_layers}/{self.total_layers} layers)"
        if self.label is FitLabel.CPU_ONLY:
            return f"CPU only ({self.speed or 'unknown speed'})"
        return "won't fit"


def estimate_memory(
    spec: ModelSpec, context: int, *, correction: float = 1.0, costs: RuntimeCosts | None = None
) -> MemoryEstimate:
    """Host-equivalent bytes to run `spec` with a `context`-token window (llama-server's RSS)."""
    c = costs or RuntimeCosts()
    layout = cache_layout(spec, max(1, context), c.cache_settings())
    return MemoryEstimate(
        weights=spec.weight_bytes + repacked_bytes(spec, c),
        kv_cache=layout.total,
        compute=compute_bytes(spec, layout, c),
        runtime=runtime_bytes(spec, c),
        correction=correction,
        checkpoints=checkpoint_bytes(layout, spec.sliding_window, c.checkpoints_per_completion),
        context=layout.n_ctx,
    )


def speed_class(tokens_per_second: float) -> SpeedClass:
    """Bucket a generation speed: ≥40 fast, ≥15 good, ≥6 usable, ≥2 slow, else very slow."""
    for floor, cls in (
        (40, SpeedClass.FAST),
        (15, SpeedClass.GOOD),
        (6, SpeedClass.USABLE),
        (2, SpeedClass.SLOW),
    ):
        if tokens_per_second >= floor:
            return cls
    return SpeedClass.VERY_SLOW


SPEED_BUCKETS = (1, 2, 5, 10, 20, 40, 80, 150, 300)


def speed_bucket(tokens_per_second: float) -> int:
    """The "~N tok/s class" shown to people: the round bucket nearest on a log scale."""
    value = max(tokens_per_second, 1e-9)
    return min(SPEED_BUCKETS, key=lambda b: abs(math.log(b / value)))


def _tokens_per_second(spec: ModelSpec, gpu_share: float, budget: MemoryBudget) -> float | None:
    """Memory-bandwidth-bound generation speed: each token reads the active weights once."""
    active = spec.active_weight_bytes / 1e9
    if active <= 0:
        return None
    seconds = 0.0
    if gpu_share > 0 and budget.gpu_bandwidth_gbs > 0:
        seconds += active * gpu_share / budget.gpu_bandwidth_gbs
    if gpu_share < 1:
        seconds += active * (1 - gpu_share) / max(budget.cpu_bandwidth_gbs, 0.1)
    return 1 / seconds if seconds > 0 else None


def _verdict(
    label: FitLabel,
    context: int,
    memory: MemoryEstimate,
    gpu_layers: int,
    spec: ModelSpec,
    budget: MemoryBudget,
) -> FitEstimate:
    share = 1.0 if label is FitLabel.FULL_GPU else gpu_layers / spec.layers if spec.layers else 0.0
    tps = _tokens_per_second(spec, share, budget) if label is not FitLabel.WONT_FIT else None
    return FitEstimate(
        label=label,
        context=context,
        memory=memory,
        gpu_layers=gpu_layers,
        total_layers=spec.layers,
        tokens_per_second=tps,
        speed=speed_class(tps) if tps is not None else None,
    )


def estimate_fit(
    spec: ModelSpec,
    context: int,
    budget: MemoryBudget,
    *,
    correction: float = 1.0,
    costs: RuntimeCosts | None = None,
) -> FitEstimate:
    """Full / partial / CPU-only / won't fit for `spec` at `context` within `budget`."""
    c = costs or RuntimeCosts()
    memory = estimate_memory(spec, context, correction=correction, costs=c)
    scale = correction
    gpu_need = int((memory.weights + memory.kv_cache + memory.compute + c.gpu_context_bytes) * scale)
    host_only = int((memory.runtime + memory.checkpoints) * scale)  # checkpoints live in host RAM
    if budget.gpu_bytes > 0 and gpu_need <= budget.gpu_bytes and host_only <= budget.ram_bytes:
        return _verdict(FitLabel.FULL_GPU, context, memory, spec.layers, spec, budget)
    if budget.gpu_bytes > 0 and not budget.unified and spec.layers > 0:
        # Layers are offloaded whole: weights are split over layers + 1 (embeddings/output stay on the CPU).
        per_layer = (memory.weights / (spec.layers + 1) + memory.kv_cache / spec.layers) * scale
        room = budget.gpu_bytes - (memory.compute + c.gpu_context_bytes) * scale
        layers = min(spec.layers - 1, max(0, math.floor(room / per_layer))) if per_layer > 0 else 0
        host_need = memory.total - layers * per_layer
        if layers >= 1 and host_need <= budget.ram_bytes:
            return _verdict(FitLabel.PARTIAL_GPU, context, memory, layers, spec, budget)
    if memory.total <= budget.ram_bytes:
        return _verdict(FitLabel.CPU_ONLY, context, memory, 0, spec, budget)
    return _verdict(FitLabel.WONT_FIT, context, memory, 0, spec, budget)
