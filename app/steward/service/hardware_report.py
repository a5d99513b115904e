"""What the Hardware page shows, computed off the GUI thread: the machine, its tier and the
recommended models per task type (marked installed when a server already has them).

Qt-free and blocking (it reads /proc, sysfs, NVML and the catalog): run it with
`asyncio.to_thread`, never on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from steward.hardware.budget import budget_for
from steward.hardware.catalog import load_catalog
from steward.hardware.detect import HardwareInfo, detect_hardware
from steward.hardware.recommend import Recommendation, TaskType, recommend_all
from steward.hardware.tiers import TierVerdict, classify

RECOMMENDATIONS_PER_TASK = 5


@dataclass(frozen=True)
class HardwareReport:
    """The detected machine, its tier verdict and the top models for every task type."""

    hardware: HardwareInfo
    verdict: TierVerdict
    recommendations: Mapping[TaskType, list[Recommendation]]
    problem: str | None = None


def build_hardware_report(installed: Iterable[str], context: int = 8192) -> HardwareReport:
    """Detect the hardware, classify it and rank the catalog for it (blocking)."""
    hardware = detect_hardware()
    verdict = classify(hardware)
    try:
        catalog = load_catalog()
    except Exception as exc:  # a broken catalog must not hide the hardware details
        return HardwareReport(hardware, verdict, {}, f"model catalog unreadable: {exc}")
    recommendations = recommend_all(
        catalog,
        budget_for(hardware, verdict),
        installed=list(installed),
        context=context,
        limit=RECOMMENDATIONS_PER_TASK,
    )
    return HardwareReport(hardware, verdict, recommendations)
