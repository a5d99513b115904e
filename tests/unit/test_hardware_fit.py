"""Fit estimates: KV formula, labels, partial offload layers, speed classes, self-correction, spec sources."""

from __future__ import annotations

import pytest

from steward.hardware.corrections import CorrectionStore
from steward.hardware.fit import (
    FitLabel,
    MemoryBudget,
    RuntimeCosts,
    SpeedClass,
    estimate_fit,
    estimate_memory,
    speed_bucket,
    speed_class,
)
from steward.hardware.gguf_meta import spec_from_gguf, spec_from_ollama_show
from steward.hardware.gpu import GIB
from steward.hardware.spec import ModelSpec, bytes_per_weight, normalize_quant

LLAMA_8B = ModelSpec(
    name="llama3.1-8b",
    parameter_count=8_030_000_000,
    layers=32,
    kv_heads=8,
    head_dim=128,
    quantization="Q4_K_M",
    heads=32,
    embedding_length=4096,
    vocab_size=128256,
    weights_bytes=4_920_000_000,
)


def test_kv_cache_is_two_times_layers_kv_heads_head_dim_context_f16() -> None:
    memory = estimate_memory(LLAMA_8B, 8192)
    assert memory.kv_cache == 2 * 32 * 8 * 128 * 8192 * 2  # exactly 1 GiB
    assert memory.kv_cache == GIB
    assert memory.weights == 4_920_000_000


def test_weights_fall_back_to_parameters_times_bytes_per_weight() -> None:
    spec = ModelSpec(
        name="x", parameter_count=1_000_000_000, layers=16, kv_heads=8, head_dim=64, quantization="Q8_0"
    )
    assert estimate_memory(spec, 0).weights == int(1e9 * 1.0625)
    assert normalize_quant("MOSTLY_q4_k_m") == "Q4_K_M"
    assert bytes_per_weight("NOT_A_QUANT") == bytes_per_weight("Q4_K_M")


def test_correction_ratio_scales_the_total() -> None:
    plain = estimate_memory(LLAMA_8B, 4096)
    corrected = estimate_memory(LLAMA_8B, 4096, correction=1.25)
    assert corrected.total == int(plain.raw_total * 1.25)


def test_full_gpu_offload_when_everything_fits_in_vram() -> None:
    fit = estimate_fit(
        LLAMA_8B, 8192, MemoryBudget(gpu_bytes=12 * GIB, ram_bytes=16 * GIB, gpu_bandwidth_gbs=300)
    )
    assert fit.label is FitLabel.FULL_GPU and fit.gpu_layers == 32
    assert fit.description == "full GPU offload"
    assert fit.tokens_per_second == pytest.approx(300 / 4.92)


def test_partial_offload_counts_the_layers_that_fit() -> None:
    budget = MemoryBudget(gpu_bytes=4 * GIB, ram_bytes=16 * GIB, gpu_bandwidth_gbs=300, cpu_bandwidth_gbs=20)
    fit = estimate_fit(LLAMA_8B, 8192, budget)
    costs = RuntimeCosts()
    memory = fit.memory
    per_layer = memory.weights / 33 + memory.kv_cache / 32
    expected = int((4 * GIB - memory.compute - costs.gpu_context_bytes) // per_layer)
    assert fit.label is FitLabel.PARTIAL_GPU
    assert fit.gpu_layers == expected and 0 < expected < 32
    assert fit.description == f"partial GPU offload ({expected}/32 layers)"


def test_cpu_only_with_speed_class_when_there_is_no_gpu() -> None:
    fit = estimate_fit(LLAMA_8B, 8192, MemoryBudget(gpu_bytes=0, ram_bytes=16 * GIB, cpu_bandwidth_gbs=20))
    assert fit.label is FitLabel.CPU_ONLY
    assert fit.tokens_per_second == pytest.approx(20 / 4.92)
    assert fit.speed is SpeedClass.SLOW
    assert fit.description == "CPU only (slow)"


def test_wont_fit_when_ram_is_too_small() -> None:
    fit = estimate_fit(LLAMA_8B, 8192, MemoryBudget(gpu_bytes=0, ram_bytes=4 * GIB))
    assert fit.label is FitLabel.WONT_FIT and not fit.runs and fit.speed is None


def test_unified_memory_is_full_gpu_or_cpu_never_partial() -> None:
    budget = MemoryBudget(gpu_bytes=6 * GIB, ram_bytes=8 * GIB, gpu_bandwidth_gbs=100, unified=True)
    assert estimate_fit(LLAMA_8B, 2048, budget).label is FitLabel.FULL_GPU
    assert estimate_fit(LLAMA_8B, 16384, budget).label is FitLabel.CPU_ONLY


def test_moe_speed_uses_active_parameters() -> None:
    moe = ModelSpec(
        name="moe",
        parameter_count=30_000_000_000,
        active_parameter_count=3_000_000_000,
        layers=48,
        kv_heads=4,
        head_dim=128,
        weights_bytes=18_000_000_000,
    )
    fit = estimate_fit(moe, 4096, MemoryBudget(gpu_bytes=0, ram_bytes=64 * GIB, cpu_bandwidth_gbs=18))
    assert fit.tokens_per_second == pytest.approx(18 / 1.8)


@pytest.mark.parametrize(
    ("tps", "cls", "bucket"),
    [
        (65, SpeedClass.FAST, 80),
        (40, SpeedClass.FAST, 40),
        (17, SpeedClass.GOOD, 20),
        (7, SpeedClass.USABLE, 5),
        (3, SpeedClass.SLOW, 2),
        (0.5, SpeedClass.VERY_SLOW, 1),
    ],
)
def test_speed_classes_and_buckets(tps: float, cls: SpeedClass, bucket: int) -> None:
    assert speed_class(tps) is cls
    assert speed_bucket(tps) == bucket


def test_correction_store_records_smoothed_clamped_ratios() -> None:
    store = CorrectionStore(smoothing=0.5)
    assert store.get("m") == 1.0
    assert store.record("m", estimated_bytes=1000, observed_bytes=1200) == pytest.approx(1.2)
    assert store.record("m", estimated_bytes=1000, observed_bytes=1000) == pytest.approx(1.1)
    store.set("huge", 50.0)
    assert store.get("huge") == 3.0
    assert store.record("m", 0, 100) == pytest.approx(1.1)  # nonsense observation ignored
    copy = CorrectionStore()
    copy.load(store.snapshot())
    assert copy.snapshot() == store.snapshot()


def test_spec_from_ollama_show_reads_model_info() -> None:
    show = {
        "details": {"family": "llama", "quantization_level": "Q4_K_M"},
        "model_info": {
            "general.architecture": "llama",
            "general.parameter_count": 8030261248,
            "llama.block_count": 32,
            "llama.attention.head_count": 32,
            "llama.attention.head_count_kv": 8,
            "llama.embedding_length": 4096,
            "llama.context_length": 131072,
            "llama.vocab_size": 128256,
        },
    }
    spec = spec_from_ollama_show("llama3.1:8b", show, size_bytes=4_920_000_000)
    assert (spec.layers, spec.kv_heads, spec.head_dim, spec.trained_context) == (32, 8, 128, 131072)
    assert spec.quantization == "Q4_K_M" and spec.weight_bytes == 4_920_000_000
    with pytest.raises(ValueError, match="lacks architecture"):
        spec_from_ollama_show("empty", {})


def test_spec_from_gguf_rejects_a_non_gguf_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bogus = tmp_path / "x.gguf"
    bogus.write_bytes(b"not a gguf file at all")
    with pytest.raises(ValueError, match="not a readable GGUF"):
        spec_from_gguf(bogus)
