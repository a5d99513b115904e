"""`make run`'s pre-flight check: the system libraries Qt's display plugin needs, named with the
exact apt-get command, before Qt gets a chance to abort with its own cryptic message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from steward import qt_check
from steward.qt_check import Missing, check, main, not_found, platform_to_check, qt_dir

LDD_WITH_TWO_MISSING = """\
\tlinux-vdso.so.1 (0x00007f63df0ec000)
\tlibxcb-cursor.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-util.so.1 => /lib/x86_64-linux-gnu/libxcb-util.so.1 (0x00007f63def2a000)
\tlibxcb-cursor.so.0 => not found
\tlibQt6Gui.so.6 => not found
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f63dd21e000)
"""


def fake_qt(tmp_path: Path) -> Path:
    """A Qt directory layout with empty plugin files (only their presence matters to the check)."""
    qt = tmp_path / "Qt"
    for relative in (*qt_check.PLUGINS["xcb"], *qt_check.PLUGINS["wayland"]):
        (qt / relative).parent.mkdir(parents=True, exist_ok=True)
        (qt / relative).touch()
    return qt


def fake_ldd_missing_two(path: Path) -> str:
    return LDD_WITH_TWO_MISSING if path.name == "libqxcb.so" else ""


def fake_ldd_all_found(path: Path) -> str:
    return "\tlibxcb.so.1 => /lib/libxcb.so.1 (0x1)\n"


def test_not_found_lists_each_missing_library_once_in_order() -> None:
    assert not_found(LDD_WITH_TWO_MISSING) == ["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libQt6Gui.so.6"]


def test_missing_libraries_become_the_exact_apt_get_command(tmp_path: Path) -> None:
    missing = check("xcb", fake_qt(tmp_path), fake_ldd_missing_two)
    assert missing == Missing(
        "xcb", ("libxcb-cursor.so.0", "libxcb-icccm.so.4"), ("libxcb-cursor0", "libxcb-icccm4")
    )
    assert missing.command() == "sudo apt-get install libxcb-cursor0 libxcb-icccm4"
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4" in missing.message()


def test_main_prints_the_command_and_fails_instead_of_launching(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([], env={}, system="linux", ldd=fake_ldd_missing_two, qt=fake_qt(tmp_path))
    assert code == 1
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4" in capsys.readouterr().err
    assert main([], env={}, system="linux", ldd=fake_ldd_all_found, qt=fake_qt(tmp_path)) == 0


def test_an_unknown_library_gets_debians_package_name(tmp_path: Path) -> None:
    def fake_ldd(path: Path) -> str:
        return "\tlibwayland-cursor.so.0 => not found\n\tlibfoo-bar2.so.1 => not found\n"

    missing = check("wayland", fake_qt(tmp_path), fake_ldd)
    assert missing is not None and missing.packages == ("libfoo-bar2-1", "libwayland-cursor0")


@pytest.mark.parametrize(
    ("env", "system", "expected"),
    [
        ({}, "linux", "xcb"),
        ({"QT_QPA_PLATFORM": "xcb"}, "linux", "xcb"),
        ({"QT_QPA_PLATFORM": "wayland;xcb"}, "linux", "wayland"),
        ({"QT_QPA_PLATFORM": "offscreen"}, "linux", None),
        ({"QT_QPA_PLATFORM": "vnc:size=800x600"}, "linux", None),
        ({}, "darwin", None),
        ({}, "win32", None),
    ],
)
def test_the_check_applies_only_where_qt_needs_display_libraries(
    env: dict[str, str], system: str, expected: str | None
) -> None:
    assert platform_to_check(env, system) == expected


def test_skipped_checks_never_run_ldd() -> None:
    def fake_ldd_must_not_run(path: Path) -> str:
        raise AssertionError("ldd ran although the check does not apply")

    assert main([], env={"QT_QPA_PLATFORM": "offscreen"}, system="linux", ldd=fake_ldd_must_not_run) == 0
    assert main([], env={}, system="darwin", ldd=fake_ldd_must_not_run) == 0


def test_the_real_check_here_runs_ldd_on_the_real_plugin_and_never_loads_qt() -> None:
    qt = qt_dir()
    assert qt is not None and (qt / "plugins/platforms/libqxcb.so").exists()
    real = qt_check.run_ldd(qt / "plugins/platforms/libqxcb.so")
    assert "libxcb.so.1" in real, "ldd really ran on the plugin"
    expected = [lib for lib in not_found(real) if not lib.startswith("libQt6")]
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    code = "import sys, steward.qt_check as q; rc = q.main([]); print(rc, 'PySide6' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    rc, qt_loaded = done.stdout.split()
    assert qt_loaded == "False", "the check must run before Qt is loaded"
    if expected:  # this machine lacks some (e.g. libxcb-icccm4 on the CI image): named with the command
        assert rc == "1"
        packages = [qt_check.XCB_PACKAGES[lib] for lib in expected]
        assert "sudo apt-get install " in done.stderr and all(p in done.stderr for p in packages)
    else:
        assert rc == "0" and done.stderr == ""
