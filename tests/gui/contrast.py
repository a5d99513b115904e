"""Measure text contrast on RENDERED pixels: grab the whole window once (so parents' card and
stylesheet backgrounds are in the picture), crop each visible text widget, take its background as
the most common colour and its text as the ink that stands out most, and compute the WCAG ratio.

"Stands out most" is the 90th percentile of the ink pixels' contrast, not the single farthest
pixel: one coloured status dot (●) in a label must not vouch for dark-on-dark words beside it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QAbstractButton, QLabel, QStatusBar, QWidget

from steward.gui.theme import contrast_ratio

INK_MIN_RATIO = 1.15  # pixels closer than this to the background are not ink (anti-aliasing halo)
INK_PERCENTILE = 0.9  # the text colour: 90% of the ink is no further from the background than this


@dataclass(frozen=True)
class Sample:
    name: str
    text: str
    ratio: float
    background: str
    ink: str


def measure(image: QImage, rect: QRect) -> tuple[float, QColor, QColor] | None:
    """(ratio, background, ink) of the pixels in `rect`, or None when nothing is drawn there."""
    rect = rect.intersected(image.rect())
    if rect.width() < 4 or rect.height() < 4:
        return None
    counts: Counter[int] = Counter()
    for y in range(rect.top(), rect.bottom() + 1):
        for x in range(rect.left(), rect.right() + 1):
            counts[image.pixel(x, y) & 0xFFFFFF] += 1
    background = QColor.fromRgb(counts.most_common(1)[0][0])
    inks: list[tuple[float, int, int]] = []  # (ratio to the background, pixel count, rgb)
    for rgb, n in counts.items():
        ratio = contrast_ratio(QColor.fromRgb(rgb), background)
        if ratio >= INK_MIN_RATIO:
            inks.append((ratio, n, rgb))
    if not inks:
        return (1.0, background, background)
    inks.sort()
    total = sum(n for _r, n, _c in inks)
    seen = 0
    for ratio, n, rgb in inks:
        seen += n
        if seen >= INK_PERCENTILE * total:
            return ratio, background, QColor.fromRgb(rgb)
    raise AssertionError("unreachable: the percentile is within the ink")


def text_widgets(root: QWidget) -> list[QWidget]:
    """The visible, enabled widgets under `root` that show body text (WCAG exempts disabled controls)."""
    found: list[QWidget] = []
    for widget in root.findChildren(QWidget):
        if not widget.isVisible() or not widget.isEnabled() or widget.visibleRegion().isEmpty():
            continue
        if (isinstance(widget, QLabel) and widget.text().strip() and widget.pixmap().isNull()) or (
            isinstance(widget, QAbstractButton) and widget.text().strip()
        ):
            found.append(widget)
    return found


def sample_window(window: QWidget, page: QWidget, status: QStatusBar | None) -> list[Sample]:
    """Contrast of every visible text widget on `page` (and the status bar) as rendered in `window`."""
    image = window.grab().toImage()
    ratio_scale = image.width() / max(1, window.width())  # device pixel ratio
    samples: list[Sample] = []
    widgets = text_widgets(page) + ([status] if status is not None and status.isVisible() else [])
    for widget in widgets:
        visible = widget.visibleRegion().boundingRect()
        top_left = widget.mapTo(window, visible.topLeft())
        rect = QRect(
            QPoint(round(top_left.x() * ratio_scale), round(top_left.y() * ratio_scale)),
            visible.size() * ratio_scale,
        )
        if isinstance(widget, QAbstractButton):  # inside the frame: a button's border is not its background
            rect = rect.adjusted(3, 3, -3, -3)
        result = measure(image, rect)
        if result is None:
            continue
        ratio, background, ink = result
        text = widget.text() if isinstance(widget, QLabel | QAbstractButton) else "status bar"
        samples.append(
            Sample(
                f"{type(widget).__name__}#{widget.objectName()}",
                text[:60],
                ratio,
                background.name(),
                ink.name(),
            )
        )
    return samples
