"""1 Hz resource sampling into bounded ring buffers on a fake clock, and the pre-request pressure check."""

from __future__ import annotations

import asyncio
import math

from tests.support.fake_clock import FakeClock

from steward.hardware.gpu import GIB, GpuInfo, GpuVendor
from steward.hardware.pressure import PressureThresholds, resource_pressure
from steward.hardware.sampler import ResourceSampler, ResourceSnapshot, RingBuffer, SystemSampler


def snap(i: int) -> ResourceSnapshot:
    gpu = GpuInfo(
        GpuVendor.NVIDIA, "g", memory_total=8 * GIB, memory_used=i * GIB, utilization_percent=10.0 * i
    )
    return ResourceSnapshot(
        cpu_percent=float(i), ram_total=16 * GIB, ram_available=(16 - i) * GIB, gpus=(gpu,)
    )


def test_ring_buffer_keeps_the_newest_values_in_order() -> None:
    ring = RingBuffer(3)
    for v in (1.0, 2.0, None, 4.0):
        ring.append(v)
    values = ring.values()
    assert len(ring) == 3 and values[0] == 2.0 and math.isnan(values[1]) and values[2] == 4.0


async def test_sampler_samples_once_per_second_into_bounded_buffers() -> None:
    clock = FakeClock(start=0.0)
    count = 0

    def sample() -> ResourceSnapshot:
        nonlocal count
        count += 1
        if count == 5:
            sampler.stop()
        return snap(count)

    sampler = ResourceSampler(clock, sample, interval_s=1.0, capacity=3)
    async with clock.autojump():
        await asyncio.wait_for(sampler.run(), timeout=5)
    assert count == 5
    assert list(sampler.times.values()) == [2.0, 3.0, 4.0]
    assert list(sampler.series["cpu_percent"].values()) == [3.0, 4.0, 5.0]
    assert list(sampler.series["ram_used"].values()) == [3 * GIB, 4 * GIB, 5 * GIB]
    assert list(sampler.series["vram_used"].values()) == [3 * GIB, 4 * GIB, 5 * GIB]
    assert list(sampler.series["gpu_utilization"].values()) == [30.0, 40.0, 50.0]
    assert sampler.latest == snap(5)


async def test_a_failing_sample_is_skipped_and_sampling_continues() -> None:
    clock = FakeClock(start=0.0)
    calls = 0

    def sample() -> ResourceSnapshot:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("psutil hiccup")
        if calls == 3:
            sampler.stop()
        return snap(calls)

    sampler = ResourceSampler(clock, sample)
    async with clock.autojump():
        await asyncio.wait_for(sampler.run(), timeout=5)
    assert sampler.errors == 1
    assert list(sampler.times.values()) == [0.0, 2.0]


def test_system_sampler_reads_this_machine() -> None:
    snapshot = SystemSampler()()
    assert snapshot.ram_total and snapshot.ram_available and snapshot.cpu_percent is not None
    assert snapshot.gpus == () and snapshot.vram_free is None


def test_pressure_warns_on_low_ram() -> None:
    s = ResourceSnapshot(ram_total=16 * GIB, ram_available=GIB // 2)
    warning = resource_pressure(s, PressureThresholds(min_ram_available_bytes=GIB))
    assert warning is not None and warning.low_ram and not warning.low_vram and warning.prefer_smaller_models
    assert "available RAM 512 MiB is below 1.0 GiB" in warning.message


def test_pressure_warns_on_low_vram_and_is_quiet_when_there_is_room() -> None:
    thresholds = PressureThresholds(min_ram_available_bytes=GIB, min_vram_free_bytes=GIB)
    tight = ResourceSnapshot(
        ram_total=16 * GIB,
        ram_available=8 * GIB,
        gpus=(GpuInfo(GpuVendor.NVIDIA, "g", memory_total=8 * GIB, memory_used=7_900_000_000),),
    )
    warning = resource_pressure(tight, thresholds)
    assert warning is not None and warning.low_vram and not warning.low_ram
    assert resource_pressure(snap(1), thresholds) is None


def test_unknown_values_never_warn() -> None:
    assert resource_pressure(ResourceSnapshot(), PressureThresholds()) is None
    assert resource_pressure(ResourceSnapshot(ram_available=1), PressureThresholds(None, None)) is None
