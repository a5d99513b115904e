"""Desktop integration files: the per-user install/uninstall script, icons and AppStream metainfo."""

from __future__ import annotations

import configparser
import os
import re
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
APP_ID = "io.github.steward.Steward"
SIZES = (16, 32, 48, 64, 128, 256)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def desktop_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def run_desktop_sh(action: str, data_home: Path, steward_bin: Path | None = None) -> str:
    env = {**os.environ, "XDG_DATA_HOME": str(data_home), "HOME": str(data_home.parent)}
    if steward_bin is not None:
        env["STEWARD_BIN"] = str(steward_bin)
    proc = subprocess.run(
        ["bash", str(PACKAGING / "desktop.sh"), action], env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_committed_icon_pngs_have_the_size_their_folder_names(tmp_path: Path) -> None:
    for size in SIZES:
        path = PACKAGING / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        assert png_size(path) == (size, size)


def test_render_icons_writes_every_size_from_the_svg(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [sys.executable, str(PACKAGING / "render_icons.py"), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    for size in SIZES:
        rendered = tmp_path / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        assert png_size(rendered) == (size, size)
        assert rendered.stat().st_size > 100  # a drawn icon, not an empty canvas header


def test_desktop_entry_names_the_app_icon_and_a_command() -> None:
    entry = desktop_entry(PACKAGING / "steward.desktop")
    assert entry["Type"] == "Application"
    assert entry["Icon"] == APP_ID
    assert entry["Exec"] == "steward"
    assert entry["Terminal"] == "false"


def test_metainfo_launches_the_installed_desktop_id_and_shows_the_screenshots() -> None:
    root = ET.parse(PACKAGING / f"{APP_ID}.metainfo.xml").getroot()
    assert root.findtext("id") == APP_ID
    assert root.findtext("launchable") == f"{APP_ID}.desktop"
    urls = [image.text or "" for image in root.iter("image")]
    assert urls, "no screenshots referenced"
    assert all("/packaging/screenshots/" in url and url.endswith(".png") for url in urls), urls
    images = [url.rsplit("/", 1)[1] for url in urls]
    # `make screenshots` also writes every page per theme and size (<page>-<theme>-<WxH>.png, not kept
    # in git): the metainfo shows the kept page pictures, whichever variants lie beside them.
    variant = re.compile(r"-(light|dark)-\d+x\d+\.png$")
    on_disk = sorted(p.name for p in (PACKAGING / "screenshots").glob("*.png") if not variant.search(p.name))
    assert sorted(images) == on_disk, "metainfo screenshots and packaging/screenshots/*.png differ"


def test_install_writes_launcher_entry_icons_and_metainfo_and_uninstall_removes_them(tmp_path: Path) -> None:
    data = tmp_path / "share"
    fake_steward = tmp_path / "venv bin" / "steward"  # a space in the path on purpose
    fake_steward.parent.mkdir()
    fake_steward.write_text('#!/bin/sh\necho "fake steward got: $*"\n')
    fake_steward.chmod(0o755)

    run_desktop_sh("install", data, fake_steward)

    launcher = data / "steward" / "launcher" / "steward"
    desktop = data / "applications" / f"{APP_ID}.desktop"
    installed = [
        launcher,
        desktop,
        data / "metainfo" / f"{APP_ID}.metainfo.xml",
        data / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg",
        *(data / "icons" / "hicolor" / f"{s}x{s}" / "apps" / f"{APP_ID}.png" for s in SIZES),
    ]
    assert all(path.is_file() for path in installed), [p for p in installed if not p.is_file()]
    entry = desktop_entry(desktop)
    assert entry["Exec"] == f'"{launcher}"'
    assert entry["TryExec"] == str(launcher)
    ran = subprocess.run([str(launcher), "--self-test"], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "fake steward got: --self-test"

    run_desktop_sh("uninstall", data)

    assert not any(path.exists() for path in installed)
    assert not (data / "steward").exists()


def test_uninstall_keeps_stewards_own_data_next_to_the_launcher(tmp_path: Path) -> None:
    data = tmp_path / "share"
    fake_steward = tmp_path / "steward"
    fake_steward.write_text("#!/bin/sh\n")
    fake_steward.chmod(0o755)
    run_desktop_sh("install", data, fake_steward)
    database = data / "steward" / "steward.sqlite3"
    database.write_bytes(b"user history")

    run_desktop_sh("uninstall", data)

    assert database.read_bytes() == b"user history"
    assert not (data / "steward" / "launcher").exists()
