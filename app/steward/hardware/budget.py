"""Turn detected hardware into a `MemoryBudget`: how much memory a model may take, how fast it is.

Bandwidths are deliberately coarse, per tier: they only feed "~N tok/s class" labels,
never promises. All assumptions live in `BudgetAssumptions`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from steward.hardware.detect import HardwareInfo
from steward.hardware.fit import MemoryBudget
from steward.hardware.gpu import GIB, MIB, format_bytes
from steward.hardware.tiers import Tier, TierVerdict

DEFAULT_GPU_BANDWIDTH_GBS = {
    Tier.LOW_VRAM: 150.0,
    Tier.MID_VRAM: 300.0,
    Tier.HIGH_VRAM: 600.0,
    Tier.WORKSTATION: 800.0,
}


@dataclass(frozen=True)
class BudgetAssumptions:
    """Headroom and effective bandwidth assumptions (tuned here, nowhere else)."""

    ram_reserve_fraction: float = 0.15  # left to the OS and apps when planning
    ram_reserve_min: int = 2 * GIB
    live_ram_reserve: int = 512 * MIB
    vram_usable_fraction: float = 0.95
    unified_gpu_fraction: float = 0.70  # Metal's default working-set limit is ~2/3–3/4 of RAM
    cpu_gbs_per_core: float = 4.0
    cpu_max_gbs: float = 40.0
    unified_gbs: float = 100.0
    gpu_gbs: dict[Tier, float] = field(default_factory=lambda: dict(DEFAULT_GPU_BANDWIDTH_GBS))


def _cpu_bandwidth(hw: HardwareInfo, a: BudgetAssumptions) -> float:
    cores = hw.cpu.physical_cores or hw.cpu.logical_cores or 2
    return min(a.cpu_max_gbs, a.cpu_gbs_per_core * cores)


def budget_for(
    hw: HardwareInfo,
    verdict: TierVerdict,
    *,
    live: bool = False,
    assumptions: BudgetAssumptions | None = None,
) -> MemoryBudget:
    """Planning budget (totals minus headroom), or with `live` what is free right now."""
    a = assumptions or BudgetAssumptions()
    ram_total = hw.memory.ram_total or 0
    if live:
        ram = max(0, (hw.memory.ram_available or 0) - a.live_ram_reserve)
    else:
        ram = max(0, ram_total - max(a.ram_reserve_min, int(ram_total * a.ram_reserve_fraction)))
    cpu_gbs = _cpu_bandwidth(hw, a)
    if hw.unified_memory:
        gpu = int(ram_total * a.unified_gpu_fraction)
        if live:
            gpu = min(gpu, ram)
        return MemoryBudget(
            gpu_bytes=gpu,
            ram_bytes=ram,
            gpu_bandwidth_gbs=a.unified_gbs,
            cpu_bandwidth_gbs=cpu_gbs,
            unified=True,
            gpu_label=f"unified memory ({format_bytes(gpu)} usable by the GPU)",
        )
    discrete = hw.discrete_gpus
    if not discrete:
        return MemoryBudget(gpu_bytes=0, ram_bytes=ram, cpu_bandwidth_gbs=cpu_gbs, gpu_label="no GPU")
    planned = int(hw.total_vram * a.vram_usable_fraction)
    gpu = sum(g.memory_free or 0 for g in discrete) if live else planned
    label = (
        f"{format_bytes(discrete[0].memory_total)} GPU"
        if len(discrete) == 1
        else f"{len(discrete)} GPUs ({format_bytes(hw.total_vram)})"
    )
    return MemoryBudget(
        gpu_bytes=gpu,
        ram_bytes=ram,
        gpu_bandwidth_gbs=a.gpu_gbs.get(verdict.tier, 150.0),
        cpu_bandwidth_gbs=cpu_gbs,
        gpu_label=label,
    )
