"""The attention cache llama.cpp allocates for a model: bytes per layer kind, the way the pinned
llama-server sizes it (read from llama.cpp's src/llama-kv-cache*.cpp and llama-context.cpp).

- The context is padded to 256 cells. Without a unified cache (`--parallel N`, Steward's launch),
  each of the N slots gets its own stream of `n_ctx / N` cells (padded to 256); with `-kvu` (or
  llama-server's `-np auto`) one stream of `n_ctx` cells is shared.
- Sliding-window layers (Gemma 2/3, Cohere 2, gpt-oss, Llama 4 chunked…) keep only
  `n_swa + n_ubatch` cells per stream (`n_swa × slots + n_ubatch` when unified), padded to 256,
  unless `--swa-full`. Which layers slide comes from the GGUF's `sliding_window_pattern` (array
  or period) or the architecture's default period (Gemma 3: 5 of every 6 layers).
- Per-layer KV head counts (arrays in the GGUF); a layer with 0 KV heads keeps no cache.
- MLA (DeepSeek 2/3, Kimi): one compressed K row of `kv_lora_rank + rope` values, no V.
- Recurrent layers (Mamba/SSM, RWKV, LFM2 short-conv) keep a fixed f32 state per slot instead.
- Cache types: f16 by default, or quantized (`-ctk/-ctv q8_0`, `q4_0`, …) with their real
  block sizes (q8_0 stores 32 values in 34 bytes).
"""

from __future__ import annotations

from dataclasses import dataclass

from steward.hardware.spec import ModelSpec

CELL_PAD = 256
# ggml type -> (bytes per block, values per block), for the types llama-server accepts as cache types.
CACHE_TYPES: dict[str, tuple[int, int]] = {
    "f32": (4, 1),
    "f16": (2, 1),
    "bf16": (2, 1),
    "q8_0": (34, 32),
    "q5_1": (24, 32),
    "q5_0": (22, 32),
    "q4_1": (20, 32),
    "q4_0": (18, 32),
    "iq4_nl": (18, 32),
}
# Architectures whose sliding-window layers follow a period when the GGUF gives no pattern:
# (period, dense_first). Not dense_first: layer il slides when il % period < period - 1.
SWA_PERIODS: dict[str, tuple[int, bool]] = {
    "gemma2": (2, False),
    "gemma3": (6, False),
    "gemma3n": (5, False),
    "gemma-embedding": (6, False),
    "cohere2": (4, False),
    "llama4": (4, False),
    "gpt-oss": (2, False),
    "exaone4": (4, False),
    "olmo2": (4, False),
    "phi3": (1, False),
}
# Gemma 2 slides even when its GGUF omits the window.
DEFAULT_WINDOWS = {"gemma2": 4096}


def pad(value: int, to: int = CELL_PAD) -> int:
    return -(-value // to) * to


def row_bytes(cache_type: str, values: int) -> int:
    """Bytes of one cache row of `values` numbers in `cache_type` (whole blocks)."""
    block_bytes, block_values = CACHE_TYPES.get(cache_type.lower(), CACHE_TYPES["f16"])
    return -(-values // block_values) * block_bytes


def swa_layers(arch: str | None, layers: int, pattern: int | tuple[bool, ...] | None) -> tuple[bool, ...]:
    """Which layers use the sliding window: the GGUF's per-layer array, its period, or the arch's."""
    if isinstance(pattern, tuple):
        flags = [bool(v) for v in pattern[:layers]]
        return tuple(flags + [False] * (layers - len(flags)))
    period, dense_first = SWA_PERIODS.get(arch or "", (0, False))
    if isinstance(pattern, int):
        period = pattern
    if period <= 0 and arch not in SWA_PERIODS:
        return ()
    if dense_first:
        return tuple(period == 0 or il % period != 0 for il in range(layers))
    return tuple(period == 0 or il % period < period - 1 for il in range(layers))


@dataclass(frozen=True)
class CacheSettings:
    """How llama-server is told to size its caches (Steward's launch: 1 slot, not unified, f16)."""

    slots: int = 1
    unified: bool = False
    type_k: str = "f16"
    type_v: str = "f16"
    swa_full: bool = False
    n_ubatch: int = 512
    n_batch: int = 2048


@dataclass(frozen=True)
class CacheLayout:
    """Cells and bytes of every cache llama.cpp creates for one context size."""

    n_ctx: int  # cells allocated in total for full-attention layers (padded)
    cells_per_stream: int  # full-attention cells per stream (the attention mask width)
    swa_cells_per_stream: int  # 0 when no layer slides
    streams: int
    n_ubatch: int
    attention_bytes: int
    swa_bytes: int
    recurrent_bytes: int
    swa_bytes_per_cell: int  # per stream, all sliding layers together
    recurrent_bytes_per_slot: int

    @property
    def total(self) -> int:
        return self.attention_bytes + self.swa_bytes + self.recurrent_bytes


def _layer_widths(spec: ModelSpec, il: int, swa: bool) -> tuple[int, int]:
    """(K values, V values) one cache cell holds for layer `il`."""
    heads = spec.kv_heads_per_layer[il] if spec.kv_heads_per_layer else spec.kv_heads
    if spec.mla_rank:
        return spec.mla_rank + (spec.rope_dim or 0), 0
    k = (spec.swa_head_dim if swa and spec.swa_head_dim else spec.head_dim) * heads
    v_dim = spec.swa_value_dim if swa and spec.swa_value_dim else spec.value_dim or spec.head_dim
    return k, v_dim * heads


def cache_layout(spec: ModelSpec, context: int, settings: CacheSettings | None = None) -> CacheLayout:
    """The caches llama-server allocates for `spec` at `context` tokens (0 = trained context)."""
    s = settings or CacheSettings()
    slots = max(1, s.slots)
    n_ctx = pad(max(1, context or spec.trained_context or 4096))
    if s.unified:
        per_stream, streams = n_ctx, 1
    else:
        per_stream, streams = pad(n_ctx // slots), slots
        n_ctx = per_stream * slots
    n_ubatch = min(s.n_ubatch, s.n_batch, n_ctx)
    sliding = swa_layers(spec.architecture, spec.layers, spec.swa_pattern) if spec.sliding_window else ()
    window = spec.sliding_window or 0
    swa_cells = 0
    if any(sliding):
        swa_cells = (
            per_stream
            if s.swa_full
            else pad(min(per_stream, window * (slots if s.unified else 1) + n_ubatch))
        )
    recurrent = spec.recurrent_layers or ()
    full_bytes = swa_cell = rec_layers = 0
    for il in range(spec.layers):
        if il < len(recurrent) and recurrent[il]:
            rec_layers += 1
            continue
        is_swa = il < len(sliding) and sliding[il]
        k, v = _layer_widths(spec, il, is_swa)
        cell = row_bytes(s.type_k, k) + (row_bytes(s.type_v, v) if v else 0)
        if is_swa:
            swa_cell += cell
        else:
            full_bytes += cell
    rec_per_slot = rec_layers * spec.recurrent_state_bytes
    return CacheLayout(
        n_ctx=n_ctx,
        cells_per_stream=per_stream if full_bytes else 0,
        swa_cells_per_stream=swa_cells,
        streams=streams,
        n_ubatch=n_ubatch,
        attention_bytes=full_bytes * per_stream * streams,
        swa_bytes=swa_cell * swa_cells * streams,
        recurrent_bytes=rec_per_slot * slots,
        swa_bytes_per_cell=swa_cell,
        recurrent_bytes_per_slot=rec_per_slot,
    )


def checkpoint_bytes(layout: CacheLayout, window: int | None, per_completion: int = 2) -> int:
    """What llama-server keeps after a completion for state it cannot roll back: for sliding-window
    and recurrent models it saves a "context checkpoint" `4 + n_ubatch` and 4 tokens before the end
    of each prompt (copies of the window's cells or of the recurrent state; up to 32 per slot,
    `--ctx-checkpoints`). Counted here for one conversation's last prompt."""
    swa = layout.swa_bytes_per_cell * min(window or 0, layout.swa_cells_per_stream)
    return per_completion * (swa + layout.recurrent_bytes_per_slot)
