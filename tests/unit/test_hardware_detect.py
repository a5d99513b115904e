"""Hardware detection through injected NVML / sysfs / platform layers with recorded machines."""

from __future__ import annotations

from pathlib import Path

import pytest

from steward.hardware.cpu import MemoryInfo, detect_cpu
from steward.hardware.detect import PlatformInfo, detect_hardware
from steward.hardware.gpu import GIB, MIB, GpuVendor
from steward.hardware.nvidia import NvidiaProbe
from steward.hardware.sysfs import SysfsReader
from steward.hardware.tiers import Tier, classify

LINUX = PlatformInfo("Linux", "x86_64")
RAM = MemoryInfo(ram_total=32 * GIB, ram_available=20 * GIB, swap_total=0, swap_used=0)


class NVMLError_LibraryNotFound(Exception):
    pass


class NVMLError_GpuIsLost(Exception):
    pass


class FakeNvml:
    """A recorded NVML: devices as dicts; optional failures injected per call name."""

    def __init__(self, devices: list[dict[str, object]], *, fail: dict[str, Exception] | None = None) -> None:
        self.devices = devices
        self.fail = dict(fail or {})
        self.inits = 0
        self.shutdowns = 0

    def _maybe_fail(self, call: str) -> None:
        if call in self.fail:
            raise self.fail[call]

    def init(self) -> None:
        self._maybe_fail("init")
        self.inits += 1

    def shutdown(self) -> None:
        self.shutdowns += 1

    def device_count(self) -> int:
        return len(self.devices)

    def name(self, index: int) -> str:
        self._maybe_fail(f"name{index}")
        return str(self.devices[index]["name"])

    def memory(self, index: int) -> tuple[int, int]:
        self._maybe_fail(f"memory{index}")
        d = self.devices[index]
        return int(d["total"]), int(d["used"])  # type: ignore[call-overload]

    def utilization(self, index: int) -> float:
        self._maybe_fail("utilization")
        return float(self.devices[index]["util"])  # type: ignore[arg-type]

    def temperature(self, index: int) -> float:
        self._maybe_fail("temperature")
        return float(self.devices[index]["temp"])  # type: ignore[arg-type]

    def driver_version(self) -> str:
        return "550.54.14"

    def cuda_version(self) -> str:
        return "12.4"

    def process_memory(self, index: int) -> dict[int, int]:
        return {1234: 3 * GIB} if index == 0 else {}


RTX_4060 = {"name": "NVIDIA GeForce RTX 4060", "total": 8 * GIB, "used": 512 * MIB, "util": 7, "temp": 41}
RTX_3090 = {"name": "NVIDIA GeForce RTX 3090", "total": 24 * GIB, "used": 1 * GIB, "util": 0, "temp": 35}


def detect(nvml: FakeNvml, sysfs: SysfsReader | None = None, plat: PlatformInfo = LINUX):  # type: ignore[no-untyped-def]
    return detect_hardware(
        nvidia=NvidiaProbe(nvml),
        sysfs=sysfs or SysfsReader("/nonexistent"),
        platform_info=plat,
        read_memory=lambda: RAM,
    )


def make_drm_card(root: Path, index: int, vendor: str, files: dict[str, str]) -> None:
    device = root / "sys/class/drm" / f"card{index}" / "device"
    device.mkdir(parents=True)
    (device / "vendor").write_text(vendor + "\n")
    for name, value in files.items():
        (device / name).write_text(value + "\n")
    (root / "sys/class/drm" / f"card{index}-DP-1").mkdir()  # connector entries are ignored


def test_one_8gib_nvidia_gpu_reads_all_fields_and_is_mid_vram() -> None:
    hw = detect(FakeNvml([RTX_4060]))
    (gpu,) = hw.gpus
    assert gpu.vendor is GpuVendor.NVIDIA
    assert gpu.name == "NVIDIA GeForce RTX 4060"
    assert (gpu.memory_total, gpu.memory_used, gpu.memory_free) == (8 * GIB, 512 * MIB, 8 * GIB - 512 * MIB)
    assert (gpu.utilization_percent, gpu.temperature_c) == (7.0, 41.0)
    assert (gpu.driver_version, gpu.cuda_version) == ("550.54.14", "12.4")
    assert classify(hw).tier is Tier.MID_VRAM
    assert "8.0 GiB" in classify(hw).explanation


def test_two_24gib_gpus_are_a_workstation() -> None:
    hw = detect(FakeNvml([RTX_3090, RTX_3090]))
    assert [g.index for g in hw.gpus] == [0, 1]
    assert hw.total_vram == 48 * GIB
    verdict = classify(hw)
    assert verdict.tier is Tier.WORKSTATION
    assert "48.0 GiB" in verdict.explanation


def test_amd_card_reads_vram_from_amdgpu_sysfs(tmp_path: Path) -> None:
    make_drm_card(
        tmp_path,
        0,
        "0x1002",
        {
            "mem_info_vram_total": str(16 * GIB),
            "mem_info_vram_used": str(2 * GIB),
            "gpu_busy_percent": "12",
            "product_name": "AMD Radeon RX 7800 XT",
        },
    )
    hw = detect(FakeNvml([], fail={"init": NVMLError_LibraryNotFound()}), SysfsReader(tmp_path))
    (gpu,) = hw.gpus
    assert gpu.vendor is GpuVendor.AMD and not gpu.integrated
    assert (gpu.name, gpu.memory_total, gpu.memory_used) == ("AMD Radeon RX 7800 XT", 16 * GIB, 2 * GIB)
    assert gpu.utilization_percent == 12.0
    assert classify(hw).tier is Tier.HIGH_VRAM


def test_amd_apu_and_intel_igpu_are_integrated(tmp_path: Path) -> None:
    make_drm_card(tmp_path, 0, "0x1002", {"mem_info_vram_total": str(512 * MIB), "mem_info_vram_used": "0"})
    make_drm_card(tmp_path, 1, "0x8086", {})
    hw = detect(FakeNvml([]), SysfsReader(tmp_path))
    assert [g.vendor for g in hw.gpus] == [GpuVendor.AMD, GpuVendor.INTEL]
    assert all(g.integrated for g in hw.gpus)
    assert classify(hw).tier is Tier.INTEGRATED


def test_apple_silicon_uses_unified_memory_and_skips_nvml() -> None:
    nvml = FakeNvml([RTX_4060])
    hw = detect(nvml, plat=PlatformInfo("Darwin", "arm64"))
    (gpu,) = hw.gpus
    assert gpu.vendor is GpuVendor.APPLE and gpu.integrated
    assert gpu.memory_total == RAM.ram_total
    assert nvml.inits == 0
    assert "NEON" in hw.cpu.simd
    verdict = classify(hw)
    assert verdict.tier is Tier.INTEGRATED and "unified memory" in verdict.explanation


def test_nvml_library_missing_is_cpu_only_with_a_note_and_is_not_retried() -> None:
    nvml = FakeNvml([RTX_4060], fail={"init": NVMLError_LibraryNotFound("libnvidia-ml.so.1 not found")})
    probe = NvidiaProbe(nvml)
    first = probe.read()
    assert first.gpus == () and first.problem == "no NVIDIA GPU (NVML library not found)"
    del nvml.fail["init"]
    assert probe.read().gpus == ()  # library absence is remembered, not re-probed every second
    hw = detect(FakeNvml([], fail={"init": NVMLError_LibraryNotFound()}))
    assert hw.gpus == () and classify(hw).tier is Tier.CPU_ONLY
    assert "no NVIDIA GPU (NVML library not found)" in hw.notes


def test_nvml_raising_mid_read_reports_no_gpu_then_recovers_on_next_read() -> None:
    nvml = FakeNvml([RTX_3090, RTX_3090], fail={"memory1": NVMLError_GpuIsLost("GPU is lost")})
    probe = NvidiaProbe(nvml)
    reading = probe.read()
    assert reading.gpus == ()
    assert reading.problem is not None and "GpuIsLost" in reading.problem
    assert nvml.shutdowns == 1
    del nvml.fail["memory1"]
    assert len(probe.read().gpus) == 2
    assert nvml.inits == 2


def test_failing_optional_nvml_values_become_unknown() -> None:
    nvml = FakeNvml([RTX_4060], fail={"utilization": NVMLError_GpuIsLost(), "temperature": RuntimeError()})
    (gpu,) = NvidiaProbe(nvml).read().gpus
    assert gpu.utilization_percent is None and gpu.temperature_c is None
    assert gpu.memory_total == 8 * GIB


def test_nvidia_card_in_sysfs_without_nvml_is_noted(tmp_path: Path) -> None:
    make_drm_card(tmp_path, 0, "0x10de", {})
    hw = detect(FakeNvml([], fail={"init": OSError("driver")}), SysfsReader(tmp_path))
    assert hw.gpus == ()
    assert any("NVIDIA card(s) present but NVML unreadable" in n for n in hw.notes)


def test_process_memory_sums_per_pid() -> None:
    assert NvidiaProbe(FakeNvml([RTX_3090, RTX_3090])).process_memory() == {1234: 3 * GIB}


@pytest.mark.parametrize(
    ("cpuinfo", "machine", "expected"),
    [
        (
            "processor\t: 0\nmodel name\t: Ryzen 9\nflags\t\t: fpu avx avx2 fma f16c avx512f\n\n",
            "x86_64",
            ("AVX", "AVX2", "AVX-512", "FMA", "F16C"),
        ),
        ("processor\t: 0\nFeatures\t: fp asimd evtstrm sve\n\n", "aarch64", ("NEON", "SVE")),
        ("", "x86_64", ()),
    ],
)
def test_cpu_simd_flags_from_cpuinfo(
    tmp_path: Path, cpuinfo: str, machine: str, expected: tuple[str, ...]
) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/cpuinfo").write_text(cpuinfo)
    assert detect_cpu(SysfsReader(tmp_path), machine).simd == expected


def test_real_detection_on_this_gpu_less_machine_is_cpu_only_and_does_not_raise() -> None:
    hw = detect_hardware()
    assert hw.memory.ram_total is not None and hw.memory.ram_total > 0
    assert hw.cpu.logical_cores is not None and hw.cpu.logical_cores >= 1
    assert hw.discrete_gpus == ()
    assert classify(hw).tier is Tier.CPU_ONLY
