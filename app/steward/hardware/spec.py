"""What a fit estimate needs to know about a model, whatever the source (GGUF, Ollama, catalog).

Also the bytes-per-weight of llama.cpp quantizations (block size included, e.g.
Q4_K_M ≈ 4.85 bits), used when the real weight size is not known.
"""

from __future__ import annotations

from dataclasses import dataclass

# Average bytes per weight of whole GGUF files per quantization (mixed quants like
# Q4_K_M keep some tensors at higher precision, hence above the nominal bits).
BYTES_PER_WEIGHT: dict[str, float] = {
    "F32": 4.0,
    "F16": 2.0,
    "BF16": 2.0,
    "Q8_0": 1.0625,
    "Q6_K": 0.8203,
    "Q5_K_M": 0.7125,
    "Q5_K_S": 0.6875,
    "Q5_1": 0.75,
    "Q5_0": 0.6875,
    "Q4_K_M": 0.6063,
    "Q4_K_S": 0.5725,
    "Q4_1": 0.625,
    "Q4_0": 0.5625,
    "IQ4_NL": 0.5625,
    "IQ4_XS": 0.5313,
    "Q3_K_L": 0.5375,
    "Q3_K_M": 0.4888,
    "Q3_K_S": 0.4375,
    "IQ3_M": 0.4625,
    "Q2_K": 0.4188,
}
DEFAULT_QUANT = "Q4_K_M"


def normalize_quant(name: str | None) -> str:
    """Canonical quant label ("q4_k_m" / "MOSTLY_Q4_K_M" -> "Q4_K_M"); unknown -> DEFAULT_QUANT."""
    if not name:
        return DEFAULT_QUANT
    label = name.upper().removeprefix("MOSTLY_").removeprefix("ALL_")
    return label or DEFAULT_QUANT


def bytes_per_weight(quant: str) -> float:
    """Bytes per weight for a quant; unknown quants count as Q4_K_M (the common default)."""
    return BYTES_PER_WEIGHT.get(normalize_quant(quant), BYTES_PER_WEIGHT[DEFAULT_QUANT])


@dataclass(frozen=True)
class ModelSpec:
    """Architecture numbers of one model at one quantization.

    `weights_bytes` is the real size of the weights when known (GGUF tensors,
    Ollama size); otherwise it is estimated from the parameter count.
    `active_parameter_count` is set for mixture-of-experts models (drives speed).

    The optional fields below describe what llama.cpp's cache and compute buffers depend on
    (read from GGUF metadata or Ollama's `model_info`, same keys); unknown ones fall back to a
    plain transformer with `kv_heads` on every layer (see `kv_cache` and `llama_costs`).
    """

    name: str
    parameter_count: int
    layers: int
    kv_heads: int
    head_dim: int
    quantization: str = DEFAULT_QUANT
    heads: int | None = None
    embedding_length: int | None = None
    trained_context: int | None = None
    vocab_size: int | None = None
    weights_bytes: int | None = None
    active_parameter_count: int | None = None
    architecture: str | None = None
    feed_forward_length: int | None = None  # widest FFN (max over layers)
    expert_feed_forward: int | None = None  # MoE: expert FFN width × experts used per token
    value_dim: int | None = None  # V head size when it differs from K's (`attention.value_length`)
    swa_head_dim: int | None = None  # K/V head sizes on sliding-window layers, when they differ
    swa_value_dim: int | None = None
    sliding_window: int | None = None  # tokens a sliding-window layer attends to
    swa_pattern: int | tuple[bool, ...] | None = None  # GGUF `sliding_window_pattern`: period or per layer
    kv_heads_per_layer: tuple[int, ...] | None = None  # GGUF arrays (0 = no attention cache there)
    mla_rank: int | None = None  # MLA: `kv_lora_rank`; the cache keeps rank + rope values per token
    rope_dim: int | None = None
    recurrent_layers: tuple[bool, ...] | None = None  # layers with an SSM/RWKV/conv state, not a KV cache
    recurrent_state_bytes: int = 0  # bytes of one such layer's state per slot (f32)
    merges: int | None = None  # BPE merges in the tokenizer (they live in RAM)
    repackable: tuple[tuple[str, int], ...] = ()  # (ggml type, bytes) of layer matmul weights

    @property
    def weight_bytes(self) -> int:
        """Bytes of all weights: the real size if known, else parameters × bytes per weight."""
        if self.weights_bytes is not None:
            return self.weights_bytes
        return int(self.parameter_count * bytes_per_weight(self.quantization))

    @property
    def active_weight_bytes(self) -> int:
        """Weight bytes read per generated token (the active experts only for MoE models)."""
        if self.active_parameter_count and self.parameter_count:
            return int(self.weight_bytes * self.active_parameter_count / self.parameter_count)
        return self.weight_bytes

    def kv_bytes_per_token(self, bytes_per_element: float = 2.0) -> float:
        """KV cache bytes per context token: 2 (K and V) × layers × kv_heads × head_dim × element size."""
        return 2 * self.layers * self.kv_heads * self.head_dim * bytes_per_element
