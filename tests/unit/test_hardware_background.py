"""The rule background checks obey: wait on battery, when the CPU is busy or memory is short; go
ahead when nothing is known (a desktop has no battery, a sandbox may hide the load)."""

from __future__ import annotations

from steward.hardware.background import Conditions, hold_off_reason, read_conditions
from steward.hardware.gpu import GIB
from steward.hardware.sampler import ResourceSnapshot

PLENTY = ResourceSnapshot(cpu_percent=10.0, ram_total=16 * GIB, ram_available=8 * GIB)


def test_on_battery_waits_with_the_level() -> None:
    assert hold_off_reason(Conditions(on_battery=True, battery_percent=41.0)) == "on battery (41 %)"
    assert hold_off_reason(Conditions(on_battery=True)) == "on battery"


def test_plugged_in_and_quiet_goes_ahead() -> None:
    assert (
        hold_off_reason(Conditions(on_battery=False, battery_percent=80, cpu_percent=20, resources=PLENTY))
        is None
    )


def test_a_busy_cpu_waits() -> None:
    assert hold_off_reason(Conditions(cpu_percent=97.0)) == "CPU busy (97 %)"
    assert hold_off_reason(Conditions(cpu_percent=89.0)) is None


def test_short_memory_waits() -> None:
    short = ResourceSnapshot(ram_total=16 * GIB, ram_available=GIB // 2)
    assert hold_off_reason(Conditions(resources=short)) == "available RAM 512 MiB is below 1.0 GiB"


def test_unknown_never_holds_off() -> None:
    assert hold_off_reason(Conditions()) is None


def test_reading_the_machine_gives_cpu_and_memory() -> None:
    now = read_conditions()
    assert now.cpu_percent is not None and 0.0 <= now.cpu_percent <= 100.0
    assert now.resources is not None and now.resources.ram_available is not None
    assert read_conditions(PLENTY).cpu_percent == 10.0, "the sampler's reading wins when it runs"
