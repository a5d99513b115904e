"""Architecture-aware memory: caches and compute buffers as the pinned llama-server sizes them.

Expected numbers are the pinned llama-server's own log lines (`-lv 4`) for the two real models,
quoted beside each assertion; the other architectures follow llama.cpp's source (MLA keeps one
compressed K row, recurrent layers a fixed state) on specs shaped like real GGUF metadata.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import pytest

from steward.hardware.context_fit import breakdown_text, fits_with_text, max_fitting_context
from steward.hardware.fit import MemoryBudget, RuntimeCosts, estimate_fit, estimate_memory
from steward.hardware.gguf_header import read_header
from steward.hardware.gguf_meta import spec_from_gguf, spec_from_ollama_show
from steward.hardware.kv_cache import CacheSettings, cache_layout, row_bytes, swa_layers
from steward.hardware.llama_costs import compute_bytes, costs_from_argv, repack_types_for
from steward.hardware.spec import ModelSpec
from steward.servers.profiles import LlamaServerProfile

MIB = 1024 * 1024
SMOL = ModelSpec(
    name="smollm2",
    parameter_count=134_515_008,
    layers=30,
    kv_heads=3,
    head_dim=64,
    heads=9,
    embedding_length=576,
    vocab_size=49152,
    feed_forward_length=1536,
    architecture="llama",
    trained_context=8192,
)
GEMMA = ModelSpec(
    name="gemma3-270m",
    parameter_count=268_098_176,
    layers=18,
    kv_heads=1,
    head_dim=256,
    heads=4,
    embedding_length=640,
    vocab_size=262144,
    feed_forward_length=2048,
    architecture="gemma3",
    sliding_window=512,
    trained_context=32768,
)


def mib(value: int) -> float:
    return round(value / MIB, 2)


def test_gemma3_slides_five_of_six_layers_and_keeps_window_plus_micro_batch_cells() -> None:
    assert swa_layers("gemma3", 18, None).count(False) == 3  # layers 5, 11, 17 attend to everything
    layout = cache_layout(GEMMA, 8192)
    # "creating non-SWA KV cache, size = 8192 cells": 24.00 MiB; "SWA KV cache, size = 1024 cells": 15.00 MiB
    assert (layout.cells_per_stream, layout.swa_cells_per_stream) == (8192, 1024)
    assert (mib(layout.attention_bytes), mib(layout.swa_bytes)) == (24.0, 15.0)
    # -c 1024: both caches 1024 cells (3.00 + 15.00 MiB)
    small = cache_layout(GEMMA, 1024)
    assert (mib(small.attention_bytes), mib(small.swa_bytes)) == (3.0, 15.0)
    # --swa-full: "size = 120.00 MiB (8192 cells, 15 layers)"
    assert mib(cache_layout(GEMMA, 8192, CacheSettings(swa_full=True)).swa_bytes) == 120.0
    # -ub 256: "SWA KV cache … 768 cells" (11.25 MiB)
    assert mib(cache_layout(GEMMA, 8192, CacheSettings(n_ubatch=256)).swa_bytes) == 11.25


def test_slots_split_the_context_unless_the_cache_is_unified() -> None:
    # --parallel 2: "24.00 MiB (4096 cells, 3 layers, 2/2 seqs)", "30.00 MiB (1024 cells, 15 layers, 2/2 seqs)"
    two = cache_layout(GEMMA, 8192, CacheSettings(slots=2))
    assert (two.cells_per_stream, two.streams, mib(two.attention_bytes), mib(two.swa_bytes)) == (
        4096,
        2,
        24.0,
        30.0,
    )
    # SmolLM2 --parallel 3 -c 4096: "n_ctx is not divisible by n_seq_max - rounding down to 4608", 101.25 MiB
    three = cache_layout(SMOL, 4096, CacheSettings(slots=3))
    assert (three.n_ctx, mib(three.total)) == (4608, 101.25)
    # unified (llama-server's -np auto = 4 slots): one stream, the window per slot
    unified = cache_layout(GEMMA, 8192, CacheSettings(slots=4, unified=True))
    assert (unified.streams, unified.swa_cells_per_stream) == (1, 2560)  # pad(512 × 4 + 512)


def test_cache_types_use_their_block_sizes() -> None:
    assert (row_bytes("f16", 256), row_bytes("q8_0", 256), row_bytes("q4_0", 256)) == (512, 272, 144)
    q8 = cache_layout(GEMMA, 8192, CacheSettings(type_k="q8_0", type_v="q8_0"))
    # "-ctk q8_0 -ctv q8_0": 12.75 MiB (8192 cells, 3 layers) and 7.97 MiB (1024 cells, 15 layers)
    assert (mib(q8.attention_bytes), mib(q8.swa_bytes)) == (12.75, 7.97)
    assert mib(cache_layout(SMOL, 4096).total) == 90.0  # "size = 90.00 MiB (4096 cells, 30 layers)"


@pytest.mark.parametrize(
    ("spec", "ctx", "settings", "logged"),
    [
        (SMOL, 512, CacheSettings(), 15.14),
        (SMOL, 4096, CacheSettings(), 18.64),
        (SMOL, 16384, CacheSettings(), 30.64),
        (SMOL, 4096, CacheSettings(n_ubatch=256), 9.32),
        (SMOL, 4096, CacheSettings(slots=3), 16.17),
        (GEMMA, 1024, CacheSettings(), 20.28),
        (GEMMA, 8192, CacheSettings(), 27.28),
        (GEMMA, 32768, CacheSettings(), 51.28),
        (GEMMA, 8192, CacheSettings(slots=2), 23.28),
        (GEMMA, 8192, CacheSettings(swa_full=True), 34.28),
        (GEMMA, 8192, CacheSettings(n_ubatch=256), 13.51),
    ],
)
def test_compute_buffer_matches_the_logged_size_with_flash_attention(
    spec: ModelSpec, ctx: int, settings: CacheSettings, logged: float
) -> None:
    costs = RuntimeCosts(parallel=settings.slots, swa_full=settings.swa_full, n_ubatch=settings.n_ubatch)
    output = spec.vocab_size * 4 * settings.slots  # "CPU output buffer size" is logged apart
    estimated = compute_bytes(spec, cache_layout(spec, ctx, costs.cache_settings()), costs) - output
    assert estimated / MIB == pytest.approx(logged, rel=0.02)


def test_without_flash_attention_the_f32_scores_dominate_as_logged() -> None:
    costs = RuntimeCosts(flash_attn="off")
    for spec, ctx, logged in (
        (SMOL, 1024, 27.51),
        (SMOL, 4096, 87.51),
        (GEMMA, 1024, 24.27),
        (GEMMA, 8192, 94.27),
    ):
        output = spec.vocab_size * 4
        estimated = (compute_bytes(spec, cache_layout(spec, ctx), costs) - output) / MIB
        assert estimated == pytest.approx(logged, rel=0.03)
    assert RuntimeCosts(flash_attn="auto").flash  # the pinned build turns it on for the CPU


def test_mla_keeps_one_compressed_row_per_token_and_no_values() -> None:
    deepseek = ModelSpec(
        name="deepseek-v3",
        parameter_count=671_000_000_000,
        layers=61,
        kv_heads=1,
        head_dim=576,
        heads=128,
        embedding_length=7168,
        mla_rank=512,
        rope_dim=64,
        architecture="deepseek2",
    )
    layout = cache_layout(deepseek, 4096)
    assert layout.total == 61 * 576 * 2 * 4096  # 274.5 MiB where plain MHA would need 128 heads × (192+128)
    assert mib(layout.total) == 274.5


def test_ollama_model_info_declares_hybrid_recurrent_layers_and_per_layer_kv_heads() -> None:
    kv = [0, 0, 0, 8] * 10  # granite-hybrid style: every 4th layer attends, the rest are Mamba-2
    show = {
        "details": {"quantization_level": "Q4_K_M"},
        "model_info": {
            "general.architecture": "granitehybrid",
            "general.parameter_count": 7_000_000_000,
            "granitehybrid.block_count": 40,
            "granitehybrid.attention.head_count": 32,
            "granitehybrid.attention.head_count_kv": kv,
            "granitehybrid.embedding_length": 4096,
            "granitehybrid.ssm.conv_kernel": 4,
            "granitehybrid.ssm.inner_size": 8192,
            "granitehybrid.ssm.state_size": 128,
            "granitehybrid.ssm.group_count": 1,
        },
    }
    spec = spec_from_ollama_show("granite4:tiny", show, size_bytes=4_000_000_000)
    assert spec.recurrent_layers is not None and spec.recurrent_layers.count(False) == 10
    state = 4 * (3 * (8192 + 2 * 128) + 128 * 8192)
    assert spec.recurrent_state_bytes == state
    layout = cache_layout(spec, 8192)
    assert layout.recurrent_bytes == 30 * state
    assert layout.attention_bytes == 10 * 2 * 8 * 128 * 2 * 8192  # only the 10 attention layers
    assert estimate_memory(spec, 8192).checkpoints == 2 * 30 * state  # llama-server checkpoints them


def test_gguf_header_reader_reads_patterns_arrays_and_long_vocabularies(tmp_path: Path) -> None:
    path = tmp_path / "tiny-gemma.gguf"
    writer = gguf.GGUFWriter(str(path), "gemma3")
    writer.add_block_count(4)
    writer.add_context_length(8192)
    writer.add_embedding_length(64)
    writer.add_feed_forward_length(256)
    writer.add_head_count(2)
    writer.add_key_length(32)
    writer.add_value_length(32)
    writer.add_array("gemma3.attention.head_count_kv", [1, 1, 2, 2])
    writer.add_uint32("gemma3.attention.sliding_window", 128)
    writer.add_array("gemma3.attention.sliding_window_pattern", [True, False, True, False])
    writer.add_token_list([f"tok{i}" for i in range(5000)])
    writer.add_token_merges([f"t o{i}" for i in range(4100)])
    writer.add_tensor("blk.0.attn_q.weight", np.zeros((64, 64), dtype=np.float16))
    writer.add_tensor("token_embd.weight", np.zeros((5000, 64), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    header = read_header(path)
    assert header.array_lengths["tokenizer.ggml.tokens"] == 5000
    spec = spec_from_gguf(path)
    assert (spec.vocab_size, spec.merges, spec.sliding_window) == (5000, 4100, 128)
    assert spec.swa_pattern == (True, False, True, False) and spec.kv_heads_per_layer == (1, 1, 2, 2)
    assert spec.weight_bytes == 64 * 64 * 2 + 5000 * 64 * 4 and spec.repackable == (("F16", 64 * 64 * 2),)
    layout = cache_layout(spec, 1024)
    # layers 0 and 2 (1 and 2 KV heads) slide: 128-token window + 512-token micro-batch → 768 cells
    assert (layout.swa_cells_per_stream, layout.swa_bytes) == (768, (1 + 2) * 2 * 32 * 2 * 768)
    assert layout.attention_bytes == (1 + 2) * 2 * 32 * 2 * 1024  # layers 1 and 3


def test_launch_flags_become_costs() -> None:
    profile = LlamaServerProfile(name="m", binary=Path("llama-server"), model=Path("m.gguf"), ctx_size=8192)
    ctx, costs = costs_from_argv(profile.argv(8080))
    assert (ctx, costs.parallel, costs.kv_unified, costs.flash) == (8192, 1, False, True)
    ctx, costs = costs_from_argv(["llama-server", "-c", "0", "-fa", "off", "-ctk", "q8_0", "--swa-full"])
    assert (ctx, costs.parallel, costs.kv_unified) == (0, 4, True)  # no --parallel: 4 slots, one cache
    assert (costs.flash, costs.cache_type_k, costs.cache_type_v, costs.swa_full) == (
        False,
        "q8_0",
        "f16",
        True,
    )
    assert repack_types_for(("AVX", "AVX2")) >= {"Q4_0", "Q4_K"} and not repack_types_for(())


def test_largest_fitting_context_and_plain_words() -> None:
    costs = RuntimeCosts()
    need = estimate_memory(GEMMA, 8192, costs=costs).total
    budget = MemoryBudget(gpu_bytes=0, ram_bytes=need)
    assert max_fitting_context(GEMMA, budget, costs=costs) == 8192
    assert not estimate_fit(GEMMA, 8192 + 256, budget, costs=costs).runs
    roomy = MemoryBudget(gpu_bytes=0, ram_bytes=64 * 1024 * MIB)
    assert max_fitting_context(GEMMA, roomy) == 32768  # capped at what it was trained for
    assert max_fitting_context(GEMMA, MemoryBudget(gpu_bytes=0, ram_bytes=MIB)) == 0
    assert fits_with_text(32768, 32768) == "fits with 32k context (its maximum)"
    assert fits_with_text(1536) == "fits with 1.5k context"
    assert fits_with_text(0) == "doesn't fit, even with a 256-token context"
    words = breakdown_text(estimate_memory(GEMMA, 8192))
    assert words.startswith("weights ") and "KV cache 39 MiB" in words
    assert "saved context checkpoints 15 MiB" in words and "compute buffers" in words and "runtime" in words
