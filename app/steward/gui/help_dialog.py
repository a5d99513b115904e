"""Help ▸ Keyboard shortcuts (F1): every shortcut of the window, read from its own actions.

The list is built from the menu actions the window really has (so it can never drift from the
menus) plus the few keys that live inside pages (send, stop).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

# Keys handled inside pages, not by menu actions.
PAGE_KEYS: tuple[tuple[str, str], ...] = (
    ("Ctrl+Return", "Chat: send the message"),
    ("Esc", "Chat: stop the answer"),
    ("Tab / Shift+Tab", "Move the keyboard focus (the focused control has a highlighted ring)"),
)


def shortcut_rows(actions: Sequence[QAction]) -> list[tuple[str, str]]:
    """(keys as shown on this platform, what they do) of every action that has a shortcut."""
    rows = []
    for action in actions:
        keys = action.shortcut()
        if keys.isEmpty():
            continue
        rows.append(
            (
                keys.toString(QKeySequence.SequenceFormat.NativeText),
                action.text().replace("&", "").rstrip("…"),
            )
        )
    return rows + [(keys, what) for keys, what in PAGE_KEYS]


class ShortcutsDialog(QDialog):
    """A two-column table of keys and what they do."""

    def __init__(self, actions: Sequence[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = shortcut_rows(actions)
        self.table = QTableWidget(len(rows), 2)
        self.table.setHorizontalHeaderLabels(["Keys", "Does"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        for row, (keys, what) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(keys))
            self.table.setItem(row, 1, QTableWidgetItem(what))
        intro = QLabel("Every menu command shows its shortcut in the menu too.")
        intro.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.resize(520, 440)

    def rows(self) -> list[tuple[str, str]]:
        """The table's rows as text (what a reader sees)."""
        return [
            (self.table.item(r, 0).text(), self.table.item(r, 1).text()) for r in range(self.table.rowCount())
        ]
