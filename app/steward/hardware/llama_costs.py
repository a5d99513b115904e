"""What a llama-server process costs beyond its weights and caches, and the launch flags that change it.

Modelled on the pinned build (calibrated on its logs and /proc/<pid>/smaps for SmolLM2-135M and
Gemma 3 270M; see tests/integration/test_hardware_fit_real.py):

- Compute buffer ("CPU compute buffer size" in its log). llama.cpp reserves the worst-case graph
  of one micro-batch (`n_ubatch` tokens, 512 by default). With flash attention it measured
  `n_ubatch × ((3 × n_ff + 5 × n_embd) × 4 + 2 × mask cells)` bytes: the FFN's gate/up/product
  plus a few embedding-wide activations in f32, and one f16 attention-mask row per cached cell of
  each cache kind (full and sliding), per slot stream. Without flash attention the f32 scores
  `n_head × cells` (plus Q and a few activations, f32 masks) replace that (≈ 5× larger at 4k). Logits for one token per slot sit
  in a separate output buffer (`n_vocab × 4 × slots`). `-fa auto` resolves to on for the CPU
  backend of the pinned build (its log: "Flash Attention enabled").
- Weights are mmap'd and populated at load, so all tensor bytes count in RSS; on x86 with AVX2
  the CPU backend also copies Q4_0/Q4_K/IQ4_NL/MXFP4 layer matrices into interleaved "CPU_REPACK"
  buffers (anonymous memory, on top of the mapping).
- Runtime: the binary and its libraries (~12 MiB resident), the heap's base, and the vocabulary
  held as strings and maps (≈196 bytes per token, ≈110 per BPE merge; Gemma's 262k tokens alone
  are ~50 MiB), plus sampler candidates per extra slot (12 bytes per token).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from steward.hardware.gpu import MIB
from steward.hardware.kv_cache import CacheLayout, CacheSettings
from steward.hardware.spec import ModelSpec

X86_AVX2_REPACK = frozenset({"Q4_0", "Q4_K", "IQ4_NL", "MXFP4"})
ARM_NEON_REPACK = frozenset({"Q4_0", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "MXFP4"})


def repack_types_for(simd: Sequence[str]) -> frozenset[str]:
    """Weight types the CPU backend repacks on a CPU with these SIMD labels (steward.hardware.cpu)."""
    if "AVX2" in simd:
        return X86_AVX2_REPACK | ({"Q2_K"} if "AVX-512" in simd else set())
    if "NEON" in simd:
        return ARM_NEON_REPACK
    return frozenset()


@dataclass(frozen=True)
class RuntimeCosts:
    """llama-server launch settings and runtime constants the estimate uses (Steward's defaults)."""

    host_base_bytes: int = 18 * MIB  # binary + libraries + stack + the heap's fixed part
    vocab_token_bytes: int = 196
    merge_bytes: int = 110
    gpu_context_bytes: int = 300 * MIB  # CUDA/ROCm/Metal context + scratch on the device
    n_ubatch: int = 512
    n_batch: int = 2048
    parallel: int = 1  # Steward launches `--parallel 1` unless the profile says otherwise
    kv_unified: bool = False
    cache_type_k: str = "f16"
    cache_type_v: str = "f16"
    flash_attn: str = "auto"  # on | off | auto (auto = on in the pinned build)
    swa_full: bool = False
    checkpoints_per_completion: int = 2  # 0 with --ctx-checkpoints 0
    repack_types: frozenset[str] = field(default_factory=lambda: X86_AVX2_REPACK)

    @property
    def flash(self) -> bool:
        return self.flash_attn != "off"

    def cache_settings(self) -> CacheSettings:
        return CacheSettings(
            slots=self.parallel,
            unified=self.kv_unified,
            type_k=self.cache_type_k,
            type_v=self.cache_type_v,
            swa_full=self.swa_full,
            n_ubatch=self.n_ubatch,
            n_batch=self.n_batch,
        )


def compute_bytes(spec: ModelSpec, layout: CacheLayout, costs: RuntimeCosts) -> int:
    """The compute buffer of one micro-batch plus the logits output buffer."""
    n_embd = spec.embedding_length or (spec.heads or 32) * spec.head_dim
    ffn = max(spec.feed_forward_length or int(3.5 * n_embd), spec.expert_feed_forward or 0)
    ffn_phase = (3 * ffn + 5 * n_embd) * 4
    mask_cells = layout.cells_per_stream + layout.swa_cells_per_stream
    if costs.flash:
        per_token = ffn_phase + 2 * mask_cells
    else:  # f32 scores for every head and cell, beside Q and a few activations; f32 masks
        heads = spec.heads or spec.kv_heads
        scored = max(layout.cells_per_stream, layout.swa_cells_per_stream)
        attention_phase = (2 * n_embd + 5 * heads * spec.head_dim) * 4 + scored * 4 * heads
        per_token = max(ffn_phase, attention_phase) + 4 * mask_cells
    output = (spec.vocab_size or 0) * 4 * max(1, costs.parallel)
    return layout.n_ubatch * per_token + output


def repacked_bytes(spec: ModelSpec, costs: RuntimeCosts) -> int:
    """Weight bytes the CPU backend copies into repacked buffers (on top of the mmap)."""
    return sum(size for kind, size in spec.repackable if kind.upper() in costs.repack_types)


def runtime_bytes(spec: ModelSpec, costs: RuntimeCosts) -> int:
    """Process base: binary, libraries, heap, vocabulary, per-slot sampler buffers."""
    vocab = spec.vocab_size or 0
    extra_slots = max(0, costs.parallel - 1)
    return (
        costs.host_base_bytes
        + vocab * costs.vocab_token_bytes
        + (spec.merges or 0) * costs.merge_bytes
        + extra_slots * vocab * 12
    )


def _flag_value(args: Sequence[str], i: int) -> str | None:
    return args[i + 1] if i + 1 < len(args) else None


def costs_from_argv(argv: Sequence[str], base: RuntimeCosts | None = None) -> tuple[int, RuntimeCosts]:
    """(context, costs) for a llama-server command line, e.g. `LlamaServerProfile.argv(port)`.

    Context 0 means the model's trained context. Without `--parallel` llama-server runs 4 slots
    sharing one unified cache (its `-np auto`)."""
    costs = base or RuntimeCosts()
    context = 4096
    changes: dict[str, object] = {}
    parallel_given = False
    args = list(argv)
    for i, arg in enumerate(args):
        value = _flag_value(args, i)
        if arg in ("-c", "--ctx-size") and value is not None:
            context = int(value)
        elif arg in ("-np", "--parallel") and value is not None:
            parallel_given = int(value) > 0
            if parallel_given:
                changes["parallel"] = int(value)
        elif arg in ("-ub", "--ubatch-size") and value is not None:
            changes["n_ubatch"] = int(value)
        elif arg in ("-b", "--batch-size") and value is not None:
            changes["n_batch"] = int(value)
        elif arg in ("-fa", "--flash-attn"):
            changes["flash_attn"] = value if value in ("on", "off", "auto") else "on"
        elif arg in ("-ctk", "--cache-type-k") and value is not None:
            changes["cache_type_k"] = value.lower()
        elif arg in ("-ctv", "--cache-type-v") and value is not None:
            changes["cache_type_v"] = value.lower()
        elif arg == "--swa-full":
            changes["swa_full"] = True
        elif arg in ("-kvu", "--kv-unified"):
            changes["kv_unified"] = True
        elif arg in ("-no-kvu", "--no-kv-unified"):
            changes["kv_unified"] = False
        elif arg in ("-ctxcp", "--ctx-checkpoints", "--swa-checkpoints") and value is not None:
            changes["checkpoints_per_completion"] = min(2, max(0, int(value)))
    if not parallel_given:
        changes.setdefault("parallel", 4)
        changes.setdefault("kv_unified", True)
    return context, replace(costs, **changes)  # type: ignore[arg-type]
