"""What the engine did to the input or the answer is shown on the message itself: repaired
characters, and a reply Steward cut at max_tokens."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from steward.engine.events import Completed, RequestStarted
from steward.gui.pages.chat_message import MessageView


def test_repaired_input_and_a_cut_reply_are_shown_as_notices(qtbot: QtBot) -> None:
    view = MessageView("assistant")
    qtbot.addWidget(view)
    note = "1 invalid character(s) (not valid UTF-8) replaced with U+FFFD"
    view.apply(RequestStarted(0.0, "r1", "sequential", ("a/m",), "pinned a/m", notes=(note,)))
    cut = "cut by Steward at max_tokens 64: the server went on past it (72 chunks)"
    view.apply(Completed(0.0, "r1", "a/m", "w " * 72, None, None, 0.1, 2.0, 1, "length", cut))
    shown = view.notice_label.text()
    assert not view.notice_label.isHidden()
    assert "replaced with U+FFFD" in shown and "cut by Steward at max_tokens 64" in shown
    assert view.badge_text() == "answered by a/m in 2.00 s"
