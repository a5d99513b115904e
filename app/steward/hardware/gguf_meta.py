"""Model specs from their sources: local GGUF files (via the `gguf` package) and Ollama `/api/show`.

Missing metadata falls back to what can be derived (head_dim = embedding / heads,
kv heads = heads); a file that is not readable GGUF raises `ValueError` with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gguf

from steward.hardware.spec import ModelSpec, normalize_quant


def _field(reader: Any, key: str) -> Any:
    field = reader.fields.get(key)
    if field is None:
        return None
    try:
        return field.contents()
    except Exception:
        return None


def _int(value: Any) -> int | None:
    if isinstance(value, list):  # per-layer arrays (e.g. varying kv heads): take the largest
        value = max(value) if value else None
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _quant_from_file_type(file_type: int | None, tensor_types: list[str]) -> str:
    if file_type is not None:
        try:
            return normalize_quant(gguf.LlamaFileType(file_type).name)
        except ValueError:
            pass
    if tensor_types:  # most common tensor type
        return normalize_quant(max(set(tensor_types), key=tensor_types.count))
    return normalize_quant(None)


def spec_from_gguf(path: Path | str) -> ModelSpec:
    """Read architecture, quantization and parameter count from a GGUF file's metadata."""
    try:
        reader = gguf.GGUFReader(str(path), "r")
    except Exception as exc:
        raise ValueError(f"{path}: not a readable GGUF file ({exc})") from exc
    arch = str(_field(reader, "general.architecture") or "llama")

    def meta(key: str) -> int | None:
        return _int(_field(reader, f"{arch}.{key}"))

    layers = meta("block_count")
    embedding = meta("embedding_length")
    heads = meta("attention.head_count")
    kv_heads = meta("attention.head_count_kv") or heads
    head_dim = meta("attention.key_length") or (embedding // heads if embedding and heads else None)
    if not layers or not kv_heads or not head_dim:
        raise ValueError(f"{path}: GGUF lacks {arch} layer/head metadata")
    params = sum(int(t.n_elements) for t in reader.tensors)
    weights = sum(int(t.n_bytes) for t in reader.tensors)
    tensor_types = [t.tensor_type.name for t in reader.tensors]
    return ModelSpec(
        name=str(_field(reader, "general.name") or Path(path).stem),
        parameter_count=params,
        layers=layers,
        kv_heads=kv_heads,
        head_dim=head_dim,
        quantization=_quant_from_file_type(_int(_field(reader, "general.file_type")), tensor_types),
        heads=heads,
        embedding_length=embedding,
        trained_context=meta("context_length"),
        vocab_size=meta("vocab_size") or _int(len(_field(reader, "tokenizer.ggml.tokens") or [])) or None,
        weights_bytes=weights,
        architecture=arch,
    )


def spec_from_ollama_show(name: str, show: Mapping[str, Any], size_bytes: int | None = None) -> ModelSpec:
    """A spec from Ollama's `/api/show` answer (`model_info` + `details`); size from `/api/tags`."""
    info: Mapping[str, Any] = show.get("model_info") or {}
    details: Mapping[str, Any] = show.get("details") or {}
    arch = str(info.get("general.architecture") or details.get("family") or "llama")

    def meta(key: str) -> int | None:
        return _int(info.get(f"{arch}.{key}"))

    layers = meta("block_count")
    embedding = meta("embedding_length")
    heads = meta("attention.head_count")
    kv_heads = meta("attention.head_count_kv") or heads
    head_dim = meta("attention.key_length") or (embedding // heads if embedding and heads else None)
    params = _int(info.get("general.parameter_count"))
    if not layers or not kv_heads or not head_dim or not params:
        raise ValueError(f"{name}: /api/show lacks architecture metadata")
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
        vocab_size=meta("vocab_size"),
        weights_bytes=size_bytes,
        architecture=arch,
    )
