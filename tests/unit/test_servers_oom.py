"""Out-of-memory signatures in llama.cpp logs and the shrinking schedule down to the floor."""

from __future__ import annotations

from pathlib import Path

import pytest

from steward.servers.oom import oom_signature, shrink_for_oom
from steward.servers.profiles import LlamaServerProfile

PROFILE = LlamaServerProfile("p", Path("/b"), Path("/m.gguf"), ctx_size=8192, gpu_layers=33)


@pytest.mark.parametrize(
    "line",
    [
        "ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer of size 4294967296",
        "ggml_backend_cuda_buffer_type_alloc_buffer: allocating 2048.00 MiB on device 0: "
        "cudaMalloc failed: out of memory",
        "llama_kv_cache_unified: unable to allocate CUDA0 buffer",
        "ggml_gallocr_reserve_n: failed to allocate CUDA0 buffer of size 1073741824",
        "terminate called after throwing an instance of 'std::bad_alloc'",
    ],
)
def test_llamacpp_out_of_memory_lines_are_recognised(line: str) -> None:
    assert oom_signature(["load_model: loading model", line, "exiting"]) == line


def test_ordinary_failures_are_not_out_of_memory() -> None:
    lines = [
        "llama_model_load: error loading model: failed to open /m.gguf",
        "srv load_model: failed to load model",
    ]
    assert oom_signature(lines) is None


def test_each_shrink_halves_context_and_gpu_layers() -> None:
    first = shrink_for_oom(PROFILE, floor=512)
    assert first is not None and (first.ctx_size, first.gpu_layers) == (4096, 16)
    second = shrink_for_oom(first, floor=512)
    assert second is not None and (second.ctx_size, second.gpu_layers) == (2048, 8)


def test_unset_gpu_layers_stay_unset() -> None:
    smaller = shrink_for_oom(LlamaServerProfile("p", Path("/b"), Path("/m"), ctx_size=2048), floor=512)
    assert smaller is not None and smaller.gpu_layers == -1


def test_shrinking_stops_at_the_floor() -> None:
    at_floor = LlamaServerProfile("p", Path("/b"), Path("/m"), ctx_size=1024)
    last = shrink_for_oom(at_floor, floor=512)
    assert last is not None and last.ctx_size == 512
    assert shrink_for_oom(last, floor=512) is None


def test_models_own_window_first_retries_at_4096() -> None:
    smaller = shrink_for_oom(LlamaServerProfile("p", Path("/b"), Path("/m"), ctx_size=0), floor=512)
    assert smaller is not None and smaller.ctx_size == 4096
