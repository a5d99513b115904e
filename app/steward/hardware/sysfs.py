"""GPUs the kernel exposes under /sys/class/drm: AMD (amdgpu VRAM files), Intel and other iGPUs.

Everything is read through a `SysfsReader` rooted at a directory, so tests build a
fake /sys tree in a temporary folder and production reads "/". Unreadable files
read as None; nothing here raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from steward.hardware.gpu import GIB, GpuInfo, GpuVendor

PCI_VENDORS = {"0x1002": GpuVendor.AMD, "0x10de": GpuVendor.NVIDIA, "0x8086": GpuVendor.INTEL}
# amdgpu reports a small VRAM carve-out for APUs; dedicated cards have at least 2 GiB.
AMD_APU_MAX_VRAM = 2 * GIB
_CARD = re.compile(r"^card(\d+)$")


class SysfsReader:
    """Read-only access to kernel pseudo-files below `root` ("/" in production)."""

    def __init__(self, root: Path | str = "/") -> None:
        self.root = Path(root)

    def read_text(self, relative: str) -> str | None:
        """The stripped content of root/relative, or None when missing or unreadable."""
        try:
            return (self.root / relative).read_text(errors="replace").strip()
        except (OSError, ValueError):
            return None

    def read_int(self, relative: str) -> int | None:
        """An integer file (decimal or 0x-hex), or None."""
        text = self.read_text(relative)
        if text is None:
            return None
        try:
            return int(text, 0)
        except ValueError:
            return None

    def list_dir(self, relative: str) -> list[str]:
        """Sorted entry names of a directory, or [] when it does not exist."""
        try:
            return sorted(entry.name for entry in (self.root / relative).iterdir())
        except OSError:
            return []


@dataclass(frozen=True)
class DrmReading:
    """Non-NVIDIA GPUs found in DRM, plus notes (e.g. an NVIDIA card whose driver NVML can't reach)."""

    gpus: tuple[GpuInfo, ...]
    nvidia_cards: int = 0


def _amd_gpu(reader: SysfsReader, device: str, index: int) -> GpuInfo:
    total = reader.read_int(f"{device}/mem_info_vram_total")
    used = reader.read_int(f"{device}/mem_info_vram_used")
    busy = reader.read_int(f"{device}/gpu_busy_percent")
    product = reader.read_text(f"{device}/product_name")
    pci_id = reader.read_text(f"{device}/device") or "?"
    integrated = total is None or total < AMD_APU_MAX_VRAM
    return GpuInfo(
        vendor=GpuVendor.AMD,
        name=product or f"AMD GPU (device {pci_id})",
        index=index,
        integrated=integrated,
        memory_total=total,
        memory_used=used,
        utilization_percent=float(busy) if busy is not None else None,
        source="sysfs-amdgpu",
    )


def read_drm_gpus(reader: SysfsReader) -> DrmReading:
    """AMD, Intel and other GPUs from /sys/class/drm/cardN/device (NVIDIA is only counted)."""
    gpus: list[GpuInfo] = []
    nvidia = 0
    for entry in reader.list_dir("sys/class/drm"):
        match = _CARD.match(entry)
        if match is None:
            continue
        index = int(match.group(1))
        device = f"sys/class/drm/{entry}/device"
        vendor_id = (reader.read_text(f"{device}/vendor") or "").lower()
        vendor = PCI_VENDORS.get(vendor_id, GpuVendor.OTHER)
        if vendor is GpuVendor.NVIDIA:
            nvidia += 1
        elif vendor is GpuVendor.AMD:
            gpus.append(_amd_gpu(reader, device, index))
        elif vendor_id:
            label = "Intel integrated GPU" if vendor is GpuVendor.INTEL else f"GPU (vendor {vendor_id})"
            gpus.append(GpuInfo(vendor=vendor, name=label, index=index, integrated=True, source="sysfs-drm"))
    return DrmReading(tuple(gpus), nvidia)
