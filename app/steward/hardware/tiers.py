"""Hardware tiers: one word for "what class of models can this machine run", with a reason.

All thresholds live in `TierThresholds` so they are tuned in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from steward.hardware.detect import HardwareInfo
from steward.hardware.gpu import GIB, format_bytes


class Tier(StrEnum):
    CPU_ONLY = "cpu_only"
    INTEGRATED = "integrated"
    LOW_VRAM = "low_vram"
    MID_VRAM = "mid_vram"
    HIGH_VRAM = "high_vram"
    WORKSTATION = "workstation"


@dataclass(frozen=True)
class TierThresholds:
    """VRAM boundaries in bytes (a GPU's largest memory picks LOW/MID/HIGH)."""

    mid_vram: int = 8 * GIB
    high_vram: int = 16 * GIB
    workstation_vram: int = 32 * GIB
    workstation_gpu_count: int = 2


@dataclass(frozen=True)
class TierVerdict:
    tier: Tier
    explanation: str


def classify(hw: HardwareInfo, thresholds: TierThresholds | None = None) -> TierVerdict:
    """The machine's tier and a one-line explanation of why."""
    t = thresholds or TierThresholds()
    discrete = hw.discrete_gpus
    total = hw.total_vram
    if discrete:
        largest = max(g.memory_total or 0 for g in discrete)
        names = ", ".join(f"{g.name} ({format_bytes(g.memory_total)})" for g in discrete)
        if len(discrete) >= t.workstation_gpu_count or total >= t.workstation_vram:
            return TierVerdict(
                Tier.WORKSTATION,
                f"{len(discrete)} GPU(s) with {format_bytes(total)} VRAM in total: large models and "
                f"long contexts fit ({names})",
            )
        if largest >= t.high_vram:
            return TierVerdict(Tier.HIGH_VRAM, f"{names}: 14–32B models fully on the GPU")
        if largest >= t.mid_vram:
            return TierVerdict(Tier.MID_VRAM, f"{names}: 7–14B models at 4-bit fully on the GPU")
        return TierVerdict(
            Tier.LOW_VRAM, f"{names}: small (1–4B) models on the GPU, larger ones split with CPU"
        )
    if hw.unified_memory:
        return TierVerdict(
            Tier.INTEGRATED,
            f"Apple unified memory ({format_bytes(hw.memory.ram_total)}): the GPU uses system RAM",
        )
    integrated = [g for g in hw.gpus if g.integrated]
    ram = format_bytes(hw.memory.ram_total)
    if integrated:
        return TierVerdict(
            Tier.INTEGRATED,
            f"{integrated[0].name} shares system RAM ({ram}); expect CPU-class speeds for most models",
        )
    return TierVerdict(Tier.CPU_ONLY, f"no usable GPU: models run on the CPU from {ram} RAM")
