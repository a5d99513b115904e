"""Pre-request resource check: is RAM or VRAM too low to start another request comfortably?

A pure function over a live snapshot and the user's thresholds; the caller emits the
warning as an event and tells routing to prefer smaller models.
"""

from __future__ import annotations

from dataclasses import dataclass

from steward.hardware.gpu import GIB, format_bytes
from steward.hardware.sampler import ResourceSnapshot


@dataclass(frozen=True)
class PressureThresholds:
    """Minimum free memory before a request; None disables a check."""

    min_ram_available_bytes: int | None = 1 * GIB
    min_vram_free_bytes: int | None = 512 * 1024**2


@dataclass(frozen=True)
class PressureWarning:
    """Memory is short; `prefer_smaller_models` tells routing to favour smaller candidates."""

    low_ram: bool
    low_vram: bool
    message: str
    prefer_smaller_models: bool = True


def resource_pressure(snapshot: ResourceSnapshot, thresholds: PressureThresholds) -> PressureWarning | None:
    """A warning when available RAM or free VRAM is below its threshold, else None.

    Unknown values never warn (no GPU, unreadable RAM): a check cannot fail on missing data.
    """
    problems: list[str] = []
    low_ram = (
        thresholds.min_ram_available_bytes is not None
        and snapshot.ram_available is not None
        and snapshot.ram_available < thresholds.min_ram_available_bytes
    )
    if low_ram:
        problems.append(
            f"available RAM {format_bytes(snapshot.ram_available)} is below "
            f"{format_bytes(thresholds.min_ram_available_bytes)}"
        )
    vram_free = snapshot.vram_free
    low_vram = (
        thresholds.min_vram_free_bytes is not None
        and vram_free is not None
        and vram_free < thresholds.min_vram_free_bytes
    )
    if low_vram:
        problems.append(
            f"free VRAM {format_bytes(vram_free)} is below {format_bytes(thresholds.min_vram_free_bytes)}"
        )
    if not problems:
        return None
    return PressureWarning(
        low_ram=low_ram,
        low_vram=low_vram,
        message="; ".join(problems) + ": preferring smaller models",
    )
