"""A fast reader of a GGUF file's header: metadata keys and tensor descriptions, no tensor data.

`gguf.GGUFReader` decodes every array element into Python objects up front, which takes
~15 s for Gemma 3's 262k-token vocabulary on a busy 2-core machine. The fit estimate needs
only scalars, short per-layer arrays and the *length* of the long ones, so this reader walks
the header once and keeps long string arrays as counts. Format: GGUF v2/v3, little-endian
(https://github.com/ggml-org/ggml/blob/master/docs/gguf.md).
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gguf

MAGIC = b"GGUF"
LONG_ARRAY = 4096  # arrays longer than this are kept as their length only
_SCALARS: dict[int, str] = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
STRING, ARRAY = 8, 9


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]  # ggml order: shape[0] is the row length
    type_name: str
    n_elements: int
    n_bytes: int


@dataclass
class GgufHeader:
    fields: dict[str, Any] = field(default_factory=dict)
    array_lengths: dict[str, int] = field(default_factory=dict)
    tensors: list[TensorInfo] = field(default_factory=list)


class _Cursor:
    def __init__(self, data: mmap.mmap) -> None:
        self.data, self.pos = data, 0

    def scalar(self, fmt: str) -> Any:
        value = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        length = self.scalar("<Q")
        raw = self.data[self.pos : self.pos + length]
        self.pos += length
        return raw.decode("utf-8", errors="replace")

    def skip_strings(self, count: int) -> None:
        for _ in range(count):
            self.pos += 8 + struct.unpack_from("<Q", self.data, self.pos)[0]

    def value(self, kind: int) -> Any:
        if kind in _SCALARS:
            return self.scalar(_SCALARS[kind])
        if kind == STRING:
            return self.string()
        if kind == ARRAY:
            raise ValueError("nested arrays are read by array()")
        raise ValueError(f"unknown GGUF value type {kind}")

    def array(self) -> tuple[list[Any] | None, int]:
        kind, count = self.scalar("<I"), self.scalar("<Q")
        if count > LONG_ARRAY:
            if kind == STRING:
                self.skip_strings(count)
            elif kind in _SCALARS:
                self.pos += count * struct.calcsize(_SCALARS[kind])
            else:
                raise ValueError("long nested array")
            return None, count
        if kind == ARRAY:
            return [self.array()[0] for _ in range(count)], count
        return [self.value(kind) for _ in range(count)], count


def _tensor_bytes(type_id: int, elements: int) -> tuple[str, int]:
    kind = gguf.GGMLQuantizationType(type_id)
    block, size = gguf.GGML_QUANT_SIZES[kind]
    return kind.name, elements // block * size


def read_header(path: Path | str) -> GgufHeader:
    """Metadata and tensor descriptions of a GGUF file; `ValueError` when it is not one."""
    try:
        with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            if data[:4] != MAGIC:
                raise ValueError("no GGUF magic")
            cur = _Cursor(data)
            cur.pos = 4
            version = cur.scalar("<I")
            if version not in (2, 3):
                raise ValueError(f"unsupported GGUF version {version}")
            n_tensors, n_kv = cur.scalar("<Q"), cur.scalar("<Q")
            header = GgufHeader()
            for _ in range(n_kv):
                key, kind = cur.string(), cur.scalar("<I")
                if kind == ARRAY:
                    values, count = cur.array()
                    header.array_lengths[key] = count
                    if values is not None:
                        header.fields[key] = values
                else:
                    header.fields[key] = cur.value(kind)
            for _ in range(n_tensors):
                name, dims = cur.string(), cur.scalar("<I")
                shape = tuple(cur.scalar("<Q") for _ in range(dims))
                type_id = cur.scalar("<I")
                cur.pos += 8  # data offset
                elements = 1
                for n in shape:
                    elements *= n
                type_name, n_bytes = _tensor_bytes(type_id, elements)
                header.tensors.append(TensorInfo(name, shape, type_name, elements, n_bytes))
            return header
    except (OSError, ValueError, struct.error, KeyError, IndexError) as exc:
        raise ValueError(str(exc) or type(exc).__name__) from exc
