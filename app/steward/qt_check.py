"""Before Qt loads: are the system libraries its display plugin needs installed? (Qt-free.)

On a fresh Debian/Ubuntu box PySide6's wheel brings Qt itself but not the X11/Wayland client
libraries. Qt then aborts at start with "Could not load the Qt platform plugin "xcb" … xcb-cursor0
… is needed", which names one library and no command. `make run` runs this module first
(`python -m steward.qt_check`): it runs `ldd` on the platform plugin Qt would load, maps every
library that is "not found" to its Debian package and prints the exact `sudo apt-get install …`
line, exiting 1 instead of letting Qt abort.

The check is skipped (exit 0) off Linux and when QT_QPA_PLATFORM picks a plugin that needs no
display libraries (offscreen, minimal, vnc…). This module must never import Qt: its whole point
is to run before Qt is loaded.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# Every shared library outside Qt that PySide6 6.x's xcb plugin (libqxcb.so + libQt6XcbQpa.so.6)
# links against, with the Debian/Ubuntu package that provides it (`ldd` + `dpkg -S` on Debian 12).
XCB_PACKAGES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libdbus-1.so.3": "libdbus-1-3",
}
# The Wayland plugins need these on top of Qt's own Wayland libraries.
WAYLAND_PACKAGES: dict[str, str] = {
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
    "libxkbcommon.so.0": "libxkbcommon0",
}
PLUGINS: dict[str, tuple[str, ...]] = {
    "xcb": ("plugins/platforms/libqxcb.so", "lib/libQt6XcbQpa.so.6"),
    "wayland": ("plugins/platforms/libqwayland-generic.so", "lib/libQt6WaylandClient.so.6"),
}
# Plugins that draw without a display server: nothing to check.
NO_DISPLAY = ("offscreen", "minimal", "minimalegl", "vnc", "linuxfb", "eglfs", "vkkhrdisplay")

# `ldd FILE` -> its output; injectable so tests can play a machine with missing libraries.
Ldd = Callable[[Path], str]


@dataclass(frozen=True)
class Missing:
    """System libraries a Qt platform plugin cannot find, and the packages that provide them."""

    platform: str
    libraries: tuple[str, ...]
    packages: tuple[str, ...]

    def command(self) -> str:
        return "sudo apt-get install " + " ".join(self.packages)

    def message(self) -> str:
        libs = ", ".join(self.libraries)
        return (
            f"Steward cannot open its window: Qt's {self.platform} display plugin needs system "
            f"libraries that are not installed ({libs}).\n"
            f"On Debian or Ubuntu install them with:\n\n    {self.command()}\n\n"
            "then run `make run` again (README, Requirements, lists them all)."
        )


def platform_to_check(env: Mapping[str, str], system: str) -> str | None:
    """The display plugin Qt will load ("xcb" or "wayland"), or None when nothing needs checking."""
    if system != "linux":
        return None
    chosen = env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip().lower()
    if not chosen:
        return "xcb"  # Qt's default, and its fallback when Wayland is unavailable
    if chosen.startswith("wayland"):
        return "wayland"
    if chosen == "xcb":
        return "xcb"
    return None  # offscreen, minimal, vnc… (or an unknown name Qt will report itself)


def qt_dir() -> Path | None:
    """PySide6's Qt directory, found without importing PySide6 (find_spec does not run it)."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "Qt"


def run_ldd(path: Path) -> str:
    """The real `ldd` output for `path` ("" when ldd is missing or fails)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return ""
    done = subprocess.run([ldd, str(path)], capture_output=True, text=True, timeout=30, check=False)
    return done.stdout


def not_found(ldd_output: str) -> list[str]:
    """Library names `ldd` reported as "not found", in order, without repeats."""
    names: list[str] = []
    for line in ldd_output.splitlines():
        name, arrow, where = line.strip().partition("=>")
        if arrow and where.strip() == "not found" and name.strip() not in names:
            names.append(name.strip())
    return names


def check(platform: str, qt: Path, ldd: Ldd = run_ldd) -> Missing | None:
    """What `platform`'s plugin under `qt` misses, or None when everything is found."""
    table = XCB_PACKAGES if platform == "xcb" else {**XCB_PACKAGES, **WAYLAND_PACKAGES}
    libraries: list[str] = []
    for relative in PLUGINS[platform]:
        path = qt / relative
        if path.exists():
            libraries += [lib for lib in not_found(ldd(path)) if lib not in libraries]
    libraries = [lib for lib in libraries if not lib.startswith("libQt6")]  # Qt's own: the wheel has them
    if not libraries:
        return None
    packages = sorted({table.get(lib, _guess_package(lib)) for lib in libraries})
    return Missing(platform, tuple(libraries), tuple(packages))


def _guess_package(library: str) -> str:
    """Debian's naming rule for a library package: libfoo.so.1 -> libfoo1, libfoo-bar.so.0 -> libfoo-bar0."""
    stem, _, version = library.partition(".so.")
    major = version.split(".")[0]
    return f"{stem.lower()}-{major}" if stem[-1:].isdigit() else f"{stem.lower()}{major}"


def main(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    system: str = sys.platform,
    ldd: Ldd = run_ldd,
    qt: Path | None = None,
) -> int:
    """0 when Qt can open a window here (or the check does not apply), 1 with the install command."""
    del argv
    platform = platform_to_check(os.environ if env is None else env, system)
    if platform is None:
        return 0
    where = qt if qt is not None else qt_dir()
    if where is None:
        print("PySide6 is not installed in this environment; run `make install` first.", file=sys.stderr)
        return 1
    missing = check(platform, where, ldd)
    if missing is None:
        return 0
    print(missing.message(), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
