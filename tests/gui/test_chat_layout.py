"""The chat page fits small screens and is easy to use: long model names and long conversations
never widen the window, messages and code blocks have Copy buttons that fill the clipboard, code
blocks are monospace panels, one "New chat" button (and Ctrl+N), a roomy quarantine dialog."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontInfo, QGuiApplication, QPalette
from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot

from steward.engine.events import Completed
from steward.gui.pages.chat_message import MessageView
from steward.gui.pages.models import QuarantineDialog
from steward.store import ChatMessage as StoredMessage
from tests.gui.conftest import AppHarness, chat_page, llama_settings, wait_until
from tests.support.llama import LlamaServer

LONG_NAME = "SmolLM2-135M-Instruct-Q8_0-imatrix-finetuned-for-lighthouse-keepers-and-bakers-v2.5-experimental"
CODE = "for loaf in range(3):\n    print('loaf', loaf, 'is ready and this line is long ' * 6)"
ANSWER = f"Here is a loop:\n\n```python\n{CODE}\n```\n\nEnjoy the bread."


def stored_session(h: AppHarness, turns: list[str], title: str = "a long talk") -> str:
    store = h.bridge.store
    assert store is not None
    session = store.create_session(title, time.time())
    for index, text in enumerate(turns):
        store.append_message(
            StoredMessage(session, "user" if index % 2 == 0 else "assistant", text, time.time())
        )
    store.flush()
    return session


def open_stored(h: AppHarness, session: str, count: int) -> None:
    page = chat_page(h)
    page.refresh_sessions()
    wait_until(h.loop, lambda: session in page.sessions.ids())
    page.open_session(session)
    wait_until(h.loop, lambda: len(page.history) == count)


def test_long_model_name_and_long_conversation_fit_a_1024x700_window(
    harness_factory: Callable[..., AppHarness], llama_factory: Callable[..., LlamaServer]
) -> None:
    server = llama_factory(ctx=1024, extra=["--alias", LONG_NAME])
    h = harness_factory(llama_settings(("a-rather-long-endpoint-name", server.url)))
    page = chat_page(h)
    key = h.bridge.snapshot.models[0].key  # type: ignore[union-attr]
    assert LONG_NAME in key
    page.model_picker.setCurrentIndex(page.model_picker.findData(key))
    unbreakable = "https://example.org/" + "x" * 300
    turns = [f"Question {n}: tell me about lighthouse number {n}. " * 12 for n in range(30)]
    turns[3] = ANSWER + " " + unbreakable
    session = stored_session(h, turns)
    h.window.show_page("chat")
    open_stored(h, session, len(turns))
    assert key in page.meter.full_text(), "the meter names the model (elided on screen, whole in the tooltip)"
    page.adjustSize()

    assert page.minimumSizeHint().width() <= 830, page.minimumSizeHint()
    assert page.minimumSizeHint().height() <= 600, page.minimumSizeHint()
    h.window.resize(1000, 650)
    wait_until(h.loop, lambda: h.window.width() <= 1000)
    assert h.window.minimumSizeHint().width() <= 1000 and h.window.minimumSizeHint().height() <= 650
    assert page.transcript.width() <= page.scroll.viewport().width(), "no message is wider than the view"
    assert key in page.meter.toolTip()


def test_copy_buttons_put_the_message_and_the_code_on_the_clipboard(qtbot: QtBot) -> None:
    view = MessageView("assistant")
    qtbot.addWidget(view)
    view.resize(600, 400)
    view.show()
    view.apply(Completed(0.0, "r1", "a/m", ANSWER, None, None, 0.1, 1.0, 1))
    (block,) = view.body.code_blocks()

    qtbot.mouseClick(block.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == CODE, "only the code, without the fences"
    assert block.copy_button.text() == "Copied"
    qtbot.mouseClick(view.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == ANSWER, "the whole message as Markdown"

    user = MessageView("user", "What is *this*?")
    qtbot.addWidget(user)
    user.show()
    qtbot.mouseClick(user.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == "What is *this*?"


def test_code_blocks_are_monospace_panels_on_the_palettes_alternate_background(qtbot: QtBot) -> None:
    view = MessageView("assistant")
    qtbot.addWidget(view)
    view.resize(500, 400)
    view.show()
    view.apply(Completed(0.0, "r1", "a/m", ANSWER, None, None, 0.1, 1.0, 1))
    (block,) = view.body.code_blocks()
    assert block.code() == CODE and block.language.text() == "python"
    assert QFontInfo(block.editor.font()).fixedPitch()
    assert block.autoFillBackground() and block.backgroundRole() == QPalette.ColorRole.AlternateBase
    assert block.editor.viewport().backgroundRole() == QPalette.ColorRole.AlternateBase
    image = block.editor.viewport().grab().toImage()
    expected = block.palette().color(QPalette.ColorRole.AlternateBase)
    assert image.pixelColor(image.width() - 3, 2).rgb() == expected.rgb(), "painted on the palette colour"
    assert block.editor.lineWrapMode() == block.editor.LineWrapMode.NoWrap, "long lines scroll, not widen"
    assert block.minimumSizeHint().width() < 200
    prose = [w for w in view.body.findChildren(type(view.header)) if w.objectName() == "answerText"]
    assert [w.text() for w in prose] == ["Here is a loop:", "Enjoy the bread."]


def test_one_new_chat_button_and_ctrl_n_start_a_new_chat(
    harness_factory: Callable[..., AppHarness], llama_small: LlamaServer, qtbot: QtBot
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url)))
    page = chat_page(h)
    news = [b for b in page.findChildren(QPushButton) if "new" in b.text().lower()]
    assert [b.text() for b in news] == ["New chat"], "one button, one name"
    h.window.show_page("chat")
    session = stored_session(h, ["Hello there.", "Hi!"])
    open_stored(h, session, 2)
    assert page.session_id == session
    qtbot.keyClick(page.input, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert page.session_id is None and page.history == [] and page.empty_label.isVisible()
    open_stored(h, session, 2)
    qtbot.mouseClick(news[0], Qt.MouseButton.LeftButton)
    assert page.session_id is None and page.history == []
    assert page.new_chat_action.shortcut().toString() == "Ctrl+N"


def test_quarantine_dialog_shows_the_whole_model_name_and_its_hint(qtbot: QtBot) -> None:
    key = f"a-rather-long-endpoint-name/{LONG_NAME}"
    dialog = QuarantineDialog(key)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.model_label.text() == key and dialog.model_label.wordWrap()
    assert dialog.model_label.isVisible()
    hint = dialog.reason.placeholderText()
    assert dialog.reason.width() >= dialog.reason.fontMetrics().horizontalAdvance(hint) + 10, "hint not cut"
    assert dialog.width() <= 900, "a long name wraps instead of widening the dialog past a small screen"
