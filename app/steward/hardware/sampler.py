"""Live resource sampling (CPU %, RAM, GPU utilization, VRAM) at 1 Hz into bounded ring buffers.

`ResourceSampler.run()` is an asyncio loop timed by an injected `Clock`; it runs off
the GUI path and charts read the buffers (fixed-size float64 numpy arrays, NaN for
unknown) without ever blocking the sampler. A failing sample is skipped, not fatal.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import psutil  # type: ignore[import-untyped, unused-ignore]

from steward.engine.clock import Clock
from steward.hardware.gpu import GpuInfo
from steward.hardware.nvidia import NvidiaProbe
from steward.hardware.sysfs import SysfsReader, read_drm_gpus


@dataclass(frozen=True)
class ResourceSnapshot:
    """One reading of the machine's load; None = unknown."""

    cpu_percent: float | None = None
    ram_total: int | None = None
    ram_available: int | None = None
    swap_used: int | None = None
    gpus: tuple[GpuInfo, ...] = ()

    @property
    def ram_used(self) -> int | None:
        if self.ram_total is None or self.ram_available is None:
            return None
        return self.ram_total - self.ram_available

    def _vram(self, attr: str) -> int | None:
        values = [getattr(g, attr) for g in self.gpus if not g.integrated]
        known = [v for v in values if v is not None]
        return sum(known) if known else None

    @property
    def vram_used(self) -> int | None:
        return self._vram("memory_used")

    @property
    def vram_total(self) -> int | None:
        return self._vram("memory_total")

    @property
    def vram_free(self) -> int | None:
        return self._vram("memory_free")

    @property
    def gpu_utilization(self) -> float | None:
        """Mean utilization over GPUs that report it."""
        known = [g.utilization_percent for g in self.gpus if g.utilization_percent is not None]
        return sum(known) / len(known) if known else None


class RingBuffer:
    """A fixed-capacity float64 series; oldest values drop off. Not thread-safe (one asyncio loop)."""

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self._data = np.full(capacity, np.nan, dtype=np.float64)
        self._next = 0
        self._count = 0

    @property
    def capacity(self) -> int:
        return len(self._data)

    def __len__(self) -> int:
        return self._count

    def append(self, value: float | None) -> None:
        self._data[self._next] = math.nan if value is None else float(value)
        self._next = (self._next + 1) % self.capacity
        self._count = min(self._count + 1, self.capacity)

    def values(self) -> npt.NDArray[np.float64]:
        """The stored values oldest first (a copy, safe to hand to a chart)."""
        if self._count < self.capacity:
            return self._data[: self._count].copy()
        return np.concatenate((self._data[self._next :], self._data[: self._next]))


SERIES = ("cpu_percent", "ram_used", "gpu_utilization", "vram_used")


class ResourceSampler:
    """Samples `sample()` every `interval_s` on `clock` into ring buffers of `capacity` points."""

    def __init__(
        self,
        clock: Clock,
        sample: Callable[[], ResourceSnapshot],
        *,
        interval_s: float = 1.0,
        capacity: int = 600,
    ) -> None:
        self._clock = clock
        self._sample = sample
        self._interval = interval_s
        self.times = RingBuffer(capacity)
        self.series: dict[str, RingBuffer] = {name: RingBuffer(capacity) for name in SERIES}
        self.latest: ResourceSnapshot | None = None
        self.errors = 0
        self._running = False

    def sample_once(self) -> ResourceSnapshot | None:
        """Take one sample now and append it; None (and `errors` += 1) if sampling failed."""
        try:
            snap = self._sample()
        except Exception:
            self.errors += 1
            return None
        self.latest = snap
        self.times.append(self._clock.now())
        for name in SERIES:
            self.series[name].append(getattr(snap, name))
        return snap

    async def run(self) -> None:
        """Sample on a fixed schedule (no drift) until `stop()` or cancellation."""
        self._running = True
        next_tick = self._clock.now()
        while self._running:
            self.sample_once()
            next_tick += self._interval
            now = self._clock.now()
            if next_tick < now:  # fell behind (suspend, slow sample): skip missed ticks
                next_tick = now
            await self._clock.sleep(next_tick - now)

    def stop(self) -> None:
        """Ask `run()` to return after its current sleep."""
        self._running = False


class SystemSampler:
    """The real sample function: psutil for CPU/RAM, NVML and amdgpu sysfs for GPUs."""

    def __init__(self, nvidia: NvidiaProbe | None = None, sysfs: SysfsReader | None = None) -> None:
        self._nvidia = nvidia
        self._sysfs = sysfs

    def __call__(self) -> ResourceSnapshot:
        gpus: list[GpuInfo] = []
        if self._nvidia is not None:
            gpus.extend(self._nvidia.read().gpus)
        if self._sysfs is not None:
            gpus.extend(read_drm_gpus(self._sysfs).gpus)
        vm = psutil.virtual_memory()
        return ResourceSnapshot(
            cpu_percent=float(psutil.cpu_percent(interval=None)),
            ram_total=int(vm.total),
            ram_available=int(vm.available),
            swap_used=int(psutil.swap_memory().used),
            gpus=tuple(gpus),
        )
