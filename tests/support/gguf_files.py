"""Tiny but valid GGUF files written with the `gguf` package's GGUFWriter: real metadata (the
architecture keys `spec_from_gguf` reads) and one small tensor, no real weights."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np


def write_gguf(
    path: Path,
    *,
    name: str = "tiny",
    arch: str = "llama",
    context: int = 4096,
    layers: int = 4,
    embedding: int = 64,
    heads: int = 4,
    kv_heads: int = 2,
    elements: int = 4096,
    tensors: bool = True,
) -> Path:
    """A GGUF file at `path` declaring `arch` with the given shape; `tensors=False` writes a
    vocabulary-only file (metadata, no weights)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name(name)
    writer.add_context_length(context)
    writer.add_block_count(layers)
    writer.add_embedding_length(embedding)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_vocab_size(256)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    if tensors:
        writer.add_tensor("token_embd.weight", np.zeros((elements // 64, 64), dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
