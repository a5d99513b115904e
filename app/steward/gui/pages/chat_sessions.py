"""The chat page's list of stored conversations: New chat (the page's one), Rename (or double-click),
Delete (confirmed)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from steward.store import ChatSessionInfo

ID_ROLE = Qt.ItemDataRole.UserRole


def ask_to_delete(parent: QWidget, title: str) -> bool:
    answer = QMessageBox.question(
        parent,
        "Delete chat",
        f"Delete “{title}” and all its messages? This cannot be undone.",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes


class SessionsPanel(QWidget):
    """Stored sessions, newest first. It only shows and asks; the chat page does the work.

    A session created here is written in the background, so a read of the store that began
    before it was written (the one at start-up, say) does not list it: such a session stays
    listed until a read has it (`set_sessions` never drops what `add_session` showed)."""

    chosen = Signal(str)  # session id
    new_requested = Signal()
    rename_requested = Signal(str, str)  # session id, title
    delete_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sessionsPanel")
        self.confirm: Callable[[QWidget, str], bool] = ask_to_delete
        self.list = QListWidget()
        self.list.setObjectName("sessionsList")
        self.list.setEditTriggers(
            QListWidget.EditTrigger.DoubleClicked | QListWidget.EditTrigger.EditKeyPressed
        )
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.itemClicked.connect(self._clicked)
        self.list.itemChanged.connect(self._edited)
        self.new_button = QPushButton("New chat")
        self.new_button.setObjectName("newChatButton")
        self.new_button.setToolTip("Start a new conversation (Ctrl+N)")
        self.new_button.clicked.connect(self.new_requested.emit)
        self.rename_button = QPushButton("Rename")
        self.rename_button.setToolTip("Rename the selected conversation (or double-click it)")
        self.rename_button.clicked.connect(self._rename)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the selected conversation from disk")
        self.delete_button.clicked.connect(self._delete)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        for button in (self.rename_button, self.delete_button):
            buttons.addWidget(button)
        title = QLabel("Conversations")
        title.setObjectName("sectionTitle")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.new_button)
        layout.addWidget(title)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self._filling = False
        self._unread: dict[str, str] = {}  # created here, not yet in a read of the store: id -> title

    def set_sessions(self, sessions: list[ChatSessionInfo], current: str | None) -> None:
        """Show `sessions` (a read of the store), plus the ones created here that it missed."""
        for info in sessions:
            self._unread.pop(info.id, None)
        self._filling = True
        self.list.clear()
        for session_id, title in reversed(self._unread.items()):  # newest first
            self._add_item(session_id, title, "not saved yet", session_id == current)
        for info in sorted(sessions, key=lambda s: -s.updated):
            when = dt.datetime.fromtimestamp(info.updated).strftime("%Y-%m-%d %H:%M")
            tip = f"{info.message_count} messages · last {when}"
            self._add_item(info.id, info.title or "Untitled", tip, info.id == current)
        self._filling = False

    def add_session(self, session_id: str, title: str) -> None:
        """Show a session created just now at the top, selected."""
        self._unread[session_id] = title
        self._filling = True
        self._add_item(session_id, title, "new conversation", True, at_top=True)
        self._filling = False

    def _add_item(self, session_id: str, title: str, tip: str, current: bool, at_top: bool = False) -> None:
        item = QListWidgetItem(title)
        item.setData(ID_ROLE, session_id)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
        item.setToolTip(tip)
        if at_top:
            self.list.insertItem(0, item)
        else:
            self.list.addItem(item)
        if current:
            self.list.setCurrentItem(item)

    def ids(self) -> list[str]:
        return [str(self.list.item(i).data(ID_ROLE)) for i in range(self.list.count())]

    def current_id(self) -> str | None:
        item = self.list.currentItem()
        return str(item.data(ID_ROLE)) if item is not None else None

    def _clicked(self, item: QListWidgetItem) -> None:
        self.chosen.emit(str(item.data(ID_ROLE)))

    def _edited(self, item: QListWidgetItem) -> None:
        if not self._filling and item.text().strip():
            self.rename_requested.emit(str(item.data(ID_ROLE)), item.text().strip())

    def _rename(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.list.editItem(item)

    def _delete(self) -> None:
        item = self.list.currentItem()
        if item is not None and self.confirm(self, item.text()):
            self._unread.pop(str(item.data(ID_ROLE)), None)
            self.delete_requested.emit(str(item.data(ID_ROLE)))
