"""CPU and system memory: model, cores, the SIMD flags llama.cpp cares about, RAM and swap.

Each value fails soft to None/"unknown"; /proc is read through a `SysfsReader` so
tests can supply a fake cpuinfo.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass

import psutil  # type: ignore[import-untyped, unused-ignore]

from steward.hardware.sysfs import SysfsReader

# cpuinfo flag -> name shown to people. NEON is "asimd" on aarch64 ("neon" on 32-bit ARM).
SIMD_FLAGS = {"avx": "AVX", "avx2": "AVX2", "avx512f": "AVX-512", "fma": "FMA", "f16c": "F16C"}
ARM_SIMD_FLAGS = {"asimd": "NEON", "neon": "NEON", "sve": "SVE"}


@dataclass(frozen=True)
class CpuInfo:
    model: str
    physical_cores: int | None
    logical_cores: int | None
    simd: tuple[str, ...]


@dataclass(frozen=True)
class MemoryInfo:
    """System memory in bytes (None = unknown)."""

    ram_total: int | None
    ram_available: int | None
    swap_total: int | None
    swap_used: int | None


def _cpuinfo_fields(text: str) -> dict[str, str]:
    """The first processor block's fields (same on every core for what we read)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip().lower(), value.strip())
    return fields


def _simd(flags: set[str], machine: str) -> tuple[str, ...]:
    found = [label for flag, label in SIMD_FLAGS.items() if flag in flags]
    found += [label for flag, label in ARM_SIMD_FLAGS.items() if flag in flags and label not in found]
    if machine.lower() in {"arm64", "aarch64"} and "NEON" not in found:
        found.append("NEON")  # NEON is mandatory on 64-bit ARM (and on Apple Silicon, which has no cpuinfo)
    return tuple(found)


def _count(logical: bool) -> int | None:
    try:
        value = psutil.cpu_count(logical=logical)
    except Exception:
        return None
    return int(value) if value else None


def detect_cpu(reader: SysfsReader, machine: str | None = None) -> CpuInfo:
    """CPU model, core counts and SIMD flags; unknown parts are None/empty."""
    arch = machine if machine is not None else platform.machine()
    fields = _cpuinfo_fields(reader.read_text("proc/cpuinfo") or "")
    model = fields.get("model name") or fields.get("hardware") or fields.get("cpu model") or ""
    model = model or platform.processor() or "unknown"
    flags = set((fields.get("flags") or fields.get("features") or "").split())
    return CpuInfo(
        model=model, physical_cores=_count(False), logical_cores=_count(True), simd=_simd(flags, arch)
    )


def detect_memory() -> MemoryInfo:
    """RAM and swap from psutil; every field None if psutil cannot read them."""
    ram_total: int | None
    ram_available: int | None
    swap_total: int | None
    swap_used: int | None
    try:
        vm = psutil.virtual_memory()
        ram_total, ram_available = int(vm.total), int(vm.available)
    except Exception:
        ram_total = ram_available = None
    try:
        sw = psutil.swap_memory()
        swap_total, swap_used = int(sw.total), int(sw.used)
    except Exception:
        swap_total = swap_used = None
    return MemoryInfo(ram_total, ram_available, swap_total, swap_used)
