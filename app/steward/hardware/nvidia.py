"""NVIDIA GPUs through NVML, behind a thin injectable layer.

`NvmlApi` is the handful of NVML calls Steward needs, addressed by device index so a
fake can replay recorded values. `NvidiaProbe` is the one entry point: it initialises
NVML lazily and turns every NVML error (library missing, driver gone, a call failing
mid-read) into an empty reading with a reason, never an exception.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any, Protocol

from steward.hardware.gpu import GpuInfo, GpuVendor


class NvmlApi(Protocol):
    """The NVML calls used by Steward (bytes for memory, percent for utilization)."""

    def init(self) -> None: ...

    def shutdown(self) -> None: ...

    def device_count(self) -> int: ...

    def name(self, index: int) -> str: ...

    def memory(self, index: int) -> tuple[int, int]:
        """(total, used) bytes."""
        ...

    def utilization(self, index: int) -> float: ...

    def temperature(self, index: int) -> float: ...

    def driver_version(self) -> str: ...

    def cuda_version(self) -> str: ...

    def process_memory(self, index: int) -> dict[int, int]:
        """Bytes of device memory used per process id (for self-correcting fit estimates)."""
        ...


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class PynvmlApi:
    """The real `NvmlApi`, backed by nvidia-ml-py; `pynvml` is imported only on `init()`."""

    def __init__(self) -> None:
        self._nvml: types.ModuleType | None = None

    def _lib(self) -> Any:
        if self._nvml is None:
            raise RuntimeError("NVML not initialised")
        return self._nvml

    def init(self) -> None:
        import pynvml

        pynvml.nvmlInit()
        self._nvml = pynvml

    def shutdown(self) -> None:
        if self._nvml is not None:
            nvml, self._nvml = self._nvml, None
            nvml.nvmlShutdown()

    def device_count(self) -> int:
        return int(self._lib().nvmlDeviceGetCount())

    def _handle(self, index: int) -> Any:
        return self._lib().nvmlDeviceGetHandleByIndex(index)

    def name(self, index: int) -> str:
        return _text(self._lib().nvmlDeviceGetName(self._handle(index)))

    def memory(self, index: int) -> tuple[int, int]:
        info = self._lib().nvmlDeviceGetMemoryInfo(self._handle(index))
        return int(info.total), int(info.used)

    def utilization(self, index: int) -> float:
        return float(self._lib().nvmlDeviceGetUtilizationRates(self._handle(index)).gpu)

    def temperature(self, index: int) -> float:
        lib = self._lib()
        return float(lib.nvmlDeviceGetTemperature(self._handle(index), lib.NVML_TEMPERATURE_GPU))

    def driver_version(self) -> str:
        return _text(self._lib().nvmlSystemGetDriverVersion())

    def cuda_version(self) -> str:
        raw = int(self._lib().nvmlSystemGetCudaDriverVersion())
        return f"{raw // 1000}.{(raw % 1000) // 10}"

    def process_memory(self, index: int) -> dict[int, int]:
        procs = self._lib().nvmlDeviceGetComputeRunningProcesses(self._handle(index))
        return {int(p.pid): int(p.usedGpuMemory or 0) for p in procs}


@dataclass(frozen=True)
class NvidiaReading:
    """What one NVML read found; `problem` says why `gpus` is empty when it is."""

    gpus: tuple[GpuInfo, ...]
    problem: str | None = None


def _optional(call: Any, *args: Any) -> Any:
    """A non-essential NVML value (utilization, temperature, versions): None when it fails."""
    try:
        return call(*args)
    except Exception:
        return None


def _describe(exc: BaseException) -> str:
    kind = type(exc).__name__
    if "LibraryNotFound" in kind or isinstance(exc, ImportError | OSError):
        return "no NVIDIA GPU (NVML library not found)"
    return f"no NVIDIA GPU (NVML error: {kind}: {exc})"


class NvidiaProbe:
    """Reads NVIDIA GPUs through an `NvmlApi`; lazy init, fails soft, reusable for 1 Hz sampling."""

    def __init__(self, api: NvmlApi) -> None:
        self._api = api
        self._ready = False
        self._unavailable: str | None = None

    def read(self) -> NvidiaReading:
        """All NVIDIA GPUs now, or an empty reading naming the problem. Never raises."""
        if self._unavailable is not None:
            return NvidiaReading((), self._unavailable)
        try:
            if not self._ready:
                self._api.init()
                self._ready = True
        except Exception as exc:
            # Library or driver missing: it will not appear while we run, so stop asking.
            self._unavailable = _describe(exc)
            return NvidiaReading((), self._unavailable)
        try:
            return NvidiaReading(self._read_all())
        except Exception as exc:
            # A failure mid-read: report no GPU for this read and re-initialise next time.
            self._reset()
            return NvidiaReading((), _describe(exc))

    def process_memory(self) -> dict[int, int]:
        """Device bytes per process id summed over all GPUs ({} when NVML is unavailable)."""
        if not self.read().gpus:
            return {}
        totals: dict[int, int] = {}
        try:
            for index in range(self._api.device_count()):
                for pid, used in self._api.process_memory(index).items():
                    totals[pid] = totals.get(pid, 0) + used
        except Exception:
            return {}
        return totals

    def close(self) -> None:
        """Release NVML (safe to call any number of times)."""
        self._reset()

    def _reset(self) -> None:
        if self._ready:
            self._ready = False
            _optional(self._api.shutdown)

    def _read_all(self) -> tuple[GpuInfo, ...]:
        api = self._api
        driver = _optional(api.driver_version)
        cuda = _optional(api.cuda_version)
        gpus = []
        for index in range(api.device_count()):
            total, used = api.memory(index)
            gpus.append(
                GpuInfo(
                    vendor=GpuVendor.NVIDIA,
                    name=api.name(index),
                    index=index,
                    memory_total=total,
                    memory_used=used,
                    utilization_percent=_optional(api.utilization, index),
                    temperature_c=_optional(api.temperature, index),
                    driver_version=driver,
                    cuda_version=cuda,
                    source="nvml",
                )
            )
        return tuple(gpus)
