"""Whole-machine hardware detection: CPU, memory and every GPU path, each failing soft.

`detect_hardware` is the single entry point. Every source is injectable (NVML layer,
sysfs root, platform, memory reader) so tests replay recorded machines; with no
arguments it reads the real one. Nothing raises: a part that cannot be read becomes
"unknown" and a note says why.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import dataclass, field

from steward.hardware.cpu import CpuInfo, MemoryInfo, detect_cpu, detect_memory
from steward.hardware.gpu import GpuInfo, GpuVendor
from steward.hardware.nvidia import NvidiaProbe, PynvmlApi
from steward.hardware.sysfs import SysfsReader, read_drm_gpus


@dataclass(frozen=True)
class PlatformInfo:
    """Operating system and machine architecture (injected in tests to play e.g. a Mac)."""

    system: str
    machine: str

    @classmethod
    def current(cls) -> PlatformInfo:
        return cls(system=platform.system(), machine=platform.machine())

    @property
    def is_apple_silicon(self) -> bool:
        return self.system == "Darwin" and self.machine.lower() in {"arm64", "aarch64"}


@dataclass(frozen=True)
class HardwareInfo:
    """Everything detected about this machine; `notes` explain what could not be read."""

    platform: PlatformInfo
    cpu: CpuInfo
    memory: MemoryInfo
    gpus: tuple[GpuInfo, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def discrete_gpus(self) -> tuple[GpuInfo, ...]:
        """Dedicated GPUs with known VRAM (what VRAM tiers count)."""
        return tuple(g for g in self.gpus if g.is_discrete_with_vram)

    @property
    def total_vram(self) -> int:
        """Sum of dedicated VRAM in bytes (0 without a discrete GPU)."""
        return sum(g.memory_total or 0 for g in self.discrete_gpus)

    @property
    def unified_memory(self) -> bool:
        return any(g.vendor is GpuVendor.APPLE for g in self.gpus)


def apple_unified_gpu(memory: MemoryInfo) -> GpuInfo:
    """Apple Silicon's GPU: it shares the whole RAM (unified memory)."""
    used = None
    if memory.ram_total is not None and memory.ram_available is not None:
        used = memory.ram_total - memory.ram_available
    return GpuInfo(
        vendor=GpuVendor.APPLE,
        name="Apple Silicon GPU (unified memory)",
        integrated=True,
        memory_total=memory.ram_total,
        memory_used=used,
        source="platform",
    )


def _safe_cpu(reader: SysfsReader, plat: PlatformInfo, notes: list[str]) -> CpuInfo:
    try:
        return detect_cpu(reader, plat.machine)
    except Exception as exc:
        notes.append(f"CPU details unknown ({type(exc).__name__})")
        return CpuInfo(model="unknown", physical_cores=None, logical_cores=None, simd=())


def _safe_memory(read: Callable[[], MemoryInfo], notes: list[str]) -> MemoryInfo:
    try:
        return read()
    except Exception as exc:
        notes.append(f"memory unknown ({type(exc).__name__})")
        return MemoryInfo(None, None, None, None)


def detect_hardware(
    *,
    nvidia: NvidiaProbe | None = None,
    sysfs: SysfsReader | None = None,
    platform_info: PlatformInfo | None = None,
    read_memory: Callable[[], MemoryInfo] = detect_memory,
) -> HardwareInfo:
    """Detect CPU, RAM and GPUs. Never raises; unreadable parts are unknown and noted."""
    plat = platform_info or PlatformInfo.current()
    reader = sysfs or SysfsReader("/")
    notes: list[str] = []
    cpu = _safe_cpu(reader, plat, notes)
    memory = _safe_memory(read_memory, notes)
    gpus: list[GpuInfo] = []
    if plat.is_apple_silicon:
        gpus.append(apple_unified_gpu(memory))
    elif plat.system != "Darwin":
        probe = nvidia or NvidiaProbe(PynvmlApi())
        try:
            reading = probe.read()
        finally:
            if nvidia is None:
                probe.close()
        gpus.extend(reading.gpus)
        if reading.problem:
            notes.append(reading.problem)
        if plat.system == "Linux":
            try:
                drm = read_drm_gpus(reader)
            except Exception as exc:
                notes.append(f"DRM GPUs unknown ({type(exc).__name__})")
            else:
                gpus.extend(drm.gpus)
                if drm.nvidia_cards and not reading.gpus:
                    notes.append(f"{drm.nvidia_cards} NVIDIA card(s) present but NVML unreadable (driver?)")
    return HardwareInfo(platform=plat, cpu=cpu, memory=memory, gpus=tuple(gpus), notes=tuple(notes))
