"""Model specs from their sources: local GGUF files (via the `gguf` package) and Ollama `/api/show`.

Both carry the same GGUF metadata keys (Ollama's `model_info` is the GGUF header), so one
reader (`_architecture_fields`) turns them into the optional `ModelSpec` fields the fit
estimate needs: FFN width, sliding window and its layer pattern, per-layer KV heads, MLA rank,
recurrent state sizes. A GGUF file (read by `gguf_header`, seconds faster than `gguf.GGUFReader`) adds what only the file has: tensor bytes, BPE merges, the
weight types the CPU backend repacks. Missing metadata falls back to what can be derived
(head_dim = embedding / heads, kv heads = heads); a file that is not readable GGUF raises
`ValueError` with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import gguf

from steward.hardware.gguf_header import GgufHeader, read_header
from steward.hardware.kv_cache import DEFAULT_WINDOWS
from steward.hardware.spec import ModelSpec, normalize_quant

# Architectures whose every layer is recurrent (no attention cache at all).
RECURRENT_ARCHS = frozenset({"mamba", "mamba2", "rwkv6", "rwkv6qwen2", "rwkv7", "arwkv7"})
Meta = Callable[[str], Any]


def _int(value: Any) -> int | None:
    if isinstance(value, list):  # per-layer arrays (e.g. varying kv heads): take the largest
        value = max(value) if value else None
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _per_layer(value: Any, layers: int) -> tuple[int, ...] | None:
    """A per-layer integer array as a tuple (None when the key is a single number or absent)."""
    if not isinstance(value, list) or not value:
        return None
    try:
        numbers = [int(v) for v in value[:layers]]
    except (TypeError, ValueError):
        return None
    return tuple(numbers + [numbers[-1]] * (layers - len(numbers)))


def _recurrent_state(meta: Meta, embedding: int) -> int:
    """Bytes (f32) of one recurrent layer's state per slot: SSM conv + state, RWKV, LFM2 short-conv."""
    d_conv, d_inner = _int(meta("ssm.conv_kernel")) or 0, _int(meta("ssm.inner_size")) or 0
    d_state, groups = _int(meta("ssm.state_size")) or 0, _int(meta("ssm.group_count")) or 0
    if d_inner and d_state:
        return 4 * (max(0, d_conv - 1) * (d_inner + 2 * groups * d_state) + d_state * d_inner)
    head = _int(meta("wkv.head_size"))
    if head:
        return 4 * ((_int(meta("token_shift_count")) or 2) * embedding + embedding * head)
    l_cache = _int(meta("shortconv.l_cache"))
    if l_cache:
        return 4 * embedding * max(0, l_cache - 1)
    return 0


def _recurrent_layers(
    meta: Meta, arch: str, layers: int, kv_per_layer: tuple[int, ...] | None, state: int
) -> tuple[bool, ...] | None:
    if not state:
        return None
    if arch in RECURRENT_ARCHS:
        return (True,) * layers
    if kv_per_layer is not None:
        return tuple(h == 0 for h in kv_per_layer)
    interval = _int(meta("full_attention_interval"))
    if interval:
        return tuple((il + 1) % interval != 0 for il in range(layers))
    return None


def _architecture_fields(meta: Meta, arch: str, layers: int, embedding: int) -> dict[str, Any]:
    """The optional ModelSpec fields, from `<arch>.*` keys (`meta` takes the key without the prefix)."""
    kv_per_layer = _per_layer(meta("attention.head_count_kv"), layers)
    window = _int(meta("attention.sliding_window")) or DEFAULT_WINDOWS.get(arch)
    raw_pattern = meta("attention.sliding_window_pattern")
    pattern: int | tuple[bool, ...] | None = None
    if isinstance(raw_pattern, list):
        pattern = tuple(bool(v) for v in raw_pattern)
    elif raw_pattern is not None:
        pattern = _int(raw_pattern)
    experts = (_int(meta("expert_feed_forward_length")) or 0) * (_int(meta("expert_used_count")) or 0)
    mla = _int(meta("attention.kv_lora_rank")) if meta("attention.key_length_mla") is not None else None
    state = _recurrent_state(meta, embedding)
    return {
        "feed_forward_length": _int(meta("feed_forward_length")),
        "expert_feed_forward": experts or None,
        "value_dim": _int(meta("attention.value_length")),
        "swa_head_dim": _int(meta("attention.key_length_swa")),
        "swa_value_dim": _int(meta("attention.value_length_swa")),
        "sliding_window": window or None,
        "swa_pattern": pattern,
        "kv_heads_per_layer": kv_per_layer,
        "mla_rank": mla,
        "rope_dim": _int(meta("rope.dimension_count")) if mla else None,
        "recurrent_layers": _recurrent_layers(meta, arch, layers, kv_per_layer, state),
        "recurrent_state_bytes": state,
    }


def _quant_from_file_type(file_type: int | None, tensor_types: list[str]) -> str:
    if file_type is not None:
        try:
            return normalize_quant(gguf.LlamaFileType(file_type).name)
        except ValueError:
            pass
    if tensor_types:  # most common tensor type
        return normalize_quant(max(set(tensor_types), key=tensor_types.count))
    return normalize_quant(None)


def _repackable(header: GgufHeader) -> tuple[tuple[str, int], ...]:
    """Bytes per ggml type of the matrices multiplied on the CPU whose rows come in groups of 8
    (what the CPU backend may repack)."""
    sizes: dict[str, int] = {}
    for t in header.tensors:
        matmul = t.name.startswith("blk.") or t.name == "output.weight"  # token_embd is only looked up
        if matmul and len(t.shape) >= 2 and t.shape[1] % 8 == 0:
            sizes[t.type_name] = sizes.get(t.type_name, 0) + t.n_bytes
    return tuple(sorted(sizes.items()))


def spec_from_gguf(path: Path | str) -> ModelSpec:
    """Read architecture, quantization and parameter count from a GGUF file's metadata."""
    try:
        header = read_header(path)
    except ValueError as exc:
        raise ValueError(f"{path}: not a readable GGUF file ({exc})") from exc
    fields = header.fields
    arch = str(fields.get("general.architecture") or "llama")

    def raw(key: str) -> Any:
        return fields.get(f"{arch}.{key}")

    def meta(key: str) -> int | None:
        return _int(raw(key))

    layers = meta("block_count")
    embedding = meta("embedding_length")
    heads = meta("attention.head_count")
    kv_heads = meta("attention.head_count_kv") or heads
    head_dim = meta("attention.key_length") or (embedding // heads if embedding and heads else None)
    if not layers or not kv_heads or not head_dim:
        raise ValueError(f"{path}: GGUF lacks {arch} layer/head metadata")
    tensor_types = [t.type_name for t in header.tensors]
    return ModelSpec(
        name=str(fields.get("general.name") or Path(path).stem),
        parameter_count=sum(t.n_elements for t in header.tensors),
        layers=layers,
        kv_heads=kv_heads,
        head_dim=head_dim,
        quantization=_quant_from_file_type(_int(fields.get("general.file_type")), tensor_types),
        heads=heads,
        embedding_length=embedding,
        trained_context=meta("context_length"),
        vocab_size=meta("vocab_size") or header.array_lengths.get("tokenizer.ggml.tokens"),
        weights_bytes=sum(t.n_bytes for t in header.tensors),
        architecture=arch,
        merges=header.array_lengths.get("tokenizer.ggml.merges"),
        repackable=_repackable(header),
        **_architecture_fields(raw, arch, layers, embedding or (heads or 1) * head_dim),
    )


def spec_from_ollama_show(name: str, show: Mapping[str, Any], size_bytes: int | None = None) -> ModelSpec:
    """A spec from Ollama's `/api/show` answer (`model_info` + `details`); size from `/api/tags`."""
    info: Mapping[str, Any] = show.get("model_info") or {}
    details: Mapping[str, Any] = show.get("details") or {}
    arch = str(info.get("general.architecture") or details.get("family") or "llama")

    def raw(key: str) -> Any:
        return info.get(f"{arch}.{key}")

    def meta(key: str) -> int | None:
        return _int(raw(key))

    layers = meta("block_count")
    embedding = meta("embedding_length")
    heads = meta("attention.head_count")
    kv_heads = meta("attention.head_count_kv") or heads
    head_dim = meta("attention.key_length") or (embedding // heads if embedding and heads else None)
    params = _int(info.get("general.parameter_count"))
    if not layers or not kv_heads or not head_dim or not params:
        raise ValueError(f"{name}: /api/show lacks architecture metadata")
    tokens = info.get("tokenizer.ggml.tokens")
    merges = info.get("tokenizer.ggml.merges")
    return ModelSpec(
        name=name,
        parameter_count=params,
        layers=layers,
        kv_heads=kv_heads,
        head_dim=head_dim,
        quantization=normalize_quant(details.get("quantization_level")),
        heads=heads,
        embedding_length=embedding,
        trained_context=meta("context_length"),
        vocab_size=meta("vocab_size") or (len(tokens) if isinstance(tokens, list) and tokens else None),
        weights_bytes=size_bytes,
        architecture=arch,
        merges=len(merges) if isinstance(merges, list) and merges else None,
        **_architecture_fields(raw, arch, layers, embedding or (heads or 1) * head_dim),
    )
