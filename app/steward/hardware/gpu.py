"""The one GPU record every detection path (NVML, amdgpu sysfs, DRM, Apple) produces.

Fields a path cannot read stay None ("unknown"), so the UI and the tier logic can
say what is missing instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

GIB = 1024**3
MIB = 1024**2


class GpuVendor(StrEnum):
    NVIDIA = "nvidia"
    AMD = "amd"
    INTEL = "intel"
    APPLE = "apple"
    OTHER = "other"


@dataclass(frozen=True)
class GpuInfo:
    """One GPU as detected; `integrated` means it shares system RAM (iGPU or unified memory)."""

    vendor: GpuVendor
    name: str
    index: int = 0
    integrated: bool = False
    memory_total: int | None = None
    memory_used: int | None = None
    utilization_percent: float | None = None
    temperature_c: float | None = None
    driver_version: str | None = None
    cuda_version: str | None = None
    source: str = ""

    @property
    def memory_free(self) -> int | None:
        """Free device memory in bytes, when both total and used are known."""
        if self.memory_total is None or self.memory_used is None:
            return None
        return max(0, self.memory_total - self.memory_used)

    @property
    def is_discrete_with_vram(self) -> bool:
        """A dedicated card whose VRAM size is known: the only kind that counts toward VRAM tiers."""
        return not self.integrated and self.memory_total is not None and self.memory_total > 0


def format_bytes(value: int | None) -> str:
    """Human-readable binary size ("7.8 GiB"), or "unknown"."""
    if value is None:
        return "unknown"
    if value >= GIB:
        return f"{value / GIB:.1f} GiB"
    return f"{value / MIB:.0f} MiB"
