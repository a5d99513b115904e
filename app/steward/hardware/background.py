"""May optional background work run now? The battery / CPU / memory rule the inference canary obeys.

Background checks (the canary's one-token generations) are optional: they must never drain a laptop
on battery, and a check on a machine that is busy or short of memory would be slow for reasons that
have nothing to do with the model (and call a healthy server wedged). `hold_off_reason` is a pure
function over what `read_conditions` measured; unknown values never hold anything off.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psutil  # type: ignore[import-untyped, unused-ignore]

from steward.hardware.pressure import PressureThresholds, resource_pressure
from steward.hardware.sampler import ResourceSnapshot

CPU_BUSY_PERCENT = 90.0
"""At or above this CPU load background checks wait."""


@dataclass(frozen=True)
class Conditions:
    """The machine now: power source and load (None = unknown)."""

    on_battery: bool | None = None
    battery_percent: float | None = None
    cpu_percent: float | None = None
    resources: ResourceSnapshot | None = None


def hold_off_reason(
    now: Conditions, thresholds: PressureThresholds | None = None, cpu_busy: float = CPU_BUSY_PERCENT
) -> str | None:
    """Why background work should wait ("on battery (41 %)", "CPU busy (97 %)", low memory), or None."""
    if now.on_battery:
        level = f" ({now.battery_percent:.0f} %)" if now.battery_percent is not None else ""
        return f"on battery{level}"
    if now.cpu_percent is not None and now.cpu_percent >= cpu_busy:
        return f"CPU busy ({now.cpu_percent:.0f} %)"
    if now.resources is not None:
        warning = resource_pressure(now.resources, thresholds or PressureThresholds())
        if warning is not None:
            return warning.message.removesuffix(": preferring smaller models")
    return None


def read_conditions(latest: ResourceSnapshot | None = None) -> Conditions:
    """Measure power and load (blocking reads of /sys and /proc: call it off the GUI thread).

    `latest` is the resource sampler's newest reading when it runs (its CPU % is measured over its
    own second); without it the CPU load is the 1-minute load average per core and memory is read now.
    """
    on_battery = percent = None
    try:
        battery = psutil.sensors_battery()
    except (AttributeError, OSError, RuntimeError):
        battery = None
    if battery is not None and battery.power_plugged is not None:
        on_battery, percent = not battery.power_plugged, float(battery.percent)
    resources = latest
    cpu = latest.cpu_percent if latest is not None else None
    if resources is None:
        vm = psutil.virtual_memory()
        resources = ResourceSnapshot(ram_total=int(vm.total), ram_available=int(vm.available))
    if cpu is None:
        try:
            cpu = min(100.0, 100.0 * os.getloadavg()[0] / (os.cpu_count() or 1))
        except OSError:
            cpu = None
    return Conditions(on_battery, percent, cpu, resources)
