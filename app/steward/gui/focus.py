"""A keyboard focus ring that is visible in the light and the dark theme.

Fusion's own focus hint is a faint tint that disappears on some palettes. This stylesheet, set
on the main window (so it adds to the application's stylesheet instead of replacing it), draws
a 2 px ring in the palette's highlight colour around the button, check box or list that has
keyboard focus. Text fields, spin boxes and combo boxes keep Fusion's own highlight-coloured
focus frame (a style-sheet border on them would replace their arrows). Only palette roles are
used, so the ring follows the theme.
"""

from __future__ import annotations

FOCUS_QSS = """
QPushButton:focus, QToolButton:focus {
    border: 2px solid palette(highlight);
    border-radius: 4px;
    background: palette(button);
    color: palette(button-text);
    padding: 3px 10px;
}
QCheckBox:focus, QRadioButton:focus {
    outline: none;
    border: 2px solid palette(highlight);
    border-radius: 3px;
}
QListView:focus, QTreeView:focus, QTableView:focus {
    border: 2px solid palette(highlight);
}
QListWidget#sidebar:focus {
    border: 2px solid palette(highlight);
}
"""


def focus_stylesheet() -> str:
    """The focus-ring rules (palette roles only: no fixed colours)."""
    return FOCUS_QSS
