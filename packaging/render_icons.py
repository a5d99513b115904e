"""Render the app icon (resources/icons/steward.svg) to the PNG sizes desktops look for.

Writes ``<out>/hicolor/<N>x<N>/apps/io.github.steward.Steward.png`` for each size, using
Qt's own SVG renderer (QtSvg ships in PySide6-Essentials), so no extra tool is needed.
Run: ``python packaging/render_icons.py [out_dir]`` (default: packaging/icons).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_ID = "io.github.steward.Steward"
SIZES = (16, 32, 48, 64, 128, 256)
ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "resources" / "icons" / "steward.svg"


def icon_path(out_dir: Path, size: int) -> Path:
    """Where the PNG of one size goes, in the hicolor theme layout."""
    return out_dir / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"


def render(source: Path, out_dir: Path, sizes: tuple[int, ...] = SIZES) -> list[Path]:
    """Render `source` at every size; returns the files written."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(source))
    if not renderer.isValid():
        raise ValueError(f"{source} is not a valid SVG")
    written: list[Path] = []
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        target = icon_path(out_dir, size)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(target)):
            raise OSError(f"could not write {target}")
        written.append(target)
    return written


def main(argv: list[str]) -> int:
    out_dir = Path(argv[1]) if len(argv) > 1 else ROOT / "packaging" / "icons"
    for path in render(SOURCE, out_dir):
        print(path.relative_to(out_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
