"""A fallback is visible at the moment it happens, against REAL llama-servers: the answering server
is killed mid-answer, the abandoned text stays struck through above a switch notice, the badge is
amber and the header's meter follows the model that actually answered. Stop (Esc) ends as
"stopped", and a stored conversation shows the same switch when reopened."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from steward.config import Settings
from steward.engine.events import (
    AttemptFailed,
    AttemptStarted,
    Completed,
    EngineEvent,
    FallbackChosen,
    RequestFailed,
    RetryScheduled,
)
from steward.engine.failures import FailureKind
from steward.gui.pages.chat_message import MessageView
from steward.gui.pages.chat_picker import model_state
from tests.gui.conftest import AppHarness, chat_page, llama_settings, wait_until
from tests.support.llama import LlamaServer

STORY = "Write a long story about a dragon who learns to bake bread."


def long_reply_settings(*servers: tuple[str, str]) -> Settings:
    """llama_settings with room for a reply long enough to be cut in the middle."""
    data = llama_settings(*servers).model_dump()
    data["context"]["max_reply_tokens"] = 160
    return Settings.model_validate(data)


def key_of(h: AppHarness, server_id: str) -> str:
    snapshot = h.bridge.snapshot
    assert snapshot is not None
    return next(m.key for m in snapshot.models if m.server_id == server_id)


def test_killed_mid_answer_keeps_the_partial_struck_through_and_says_who_continued(
    harness_factory: Callable[..., AppHarness],
    llama_factory: Callable[..., LlamaServer],
    llama_large: LlamaServer,
    qtbot: QtBot,
) -> None:
    primary = llama_factory(ctx=1024)
    h = harness_factory(long_reply_settings(("primary", primary.url), ("backup", llama_large.url)))
    first, backup = key_of(h, "primary"), key_of(h, "backup")
    page = chat_page(h)
    h.window.show_page("chat")
    page.model_picker.setCurrentIndex(page.model_picker.findData(first))
    streamed: list[str] = []

    def kill_on_first_token(_rid: str, event: EngineEvent) -> None:
        if event.type == "Token" and event.model_key == first:
            streamed.append(getattr(event, "text", ""))
            if primary.process is not None and primary.process.poll() is None:
                primary.process.kill()  # SIGKILL while it is answering

    h.bridge.chat.chat_event.connect(kill_on_first_token)
    page.input.setPlainText(STORY)
    qtbot.keyClick(page.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    wait_until(h.loop, lambda: page.current is not None and page.current.finished, timeout=120)
    message = page.current
    assert message is not None and message.model == backup, message.chain

    # The abandoned partial is kept, struck through, above the notice and the new answer.
    kinds = [w.objectName() for w in message.flow_widgets]
    assert kinds == ["abandonedText", "fallbackNotice"]
    abandoned, notice = message.flow_widgets
    assert abandoned.isVisible() and abandoned.font().strikeOut()
    assert abandoned.text() == "".join(streamed) != "", "exactly the text that was shown before the kill"
    assert notice.isVisible()
    assert notice.text().startswith(f"↪ {first} stopped (")
    assert notice.text().endswith(f") → continuing with {backup}")
    top = [w.mapTo(message, QPoint(0, 0)).y() for w in (abandoned, notice, message.body)]
    assert top == sorted(top), "struck text, then the notice, then the answer that replaced it"
    assert message.body.text() == message.text != "" and message.body.isVisible()
    assert page.history[-1] == ("assistant", message.text), (
        "the abandoned text is not part of the conversation"
    )

    # Amber badge naming the fallback; never the clean green.
    assert message.badge.property("outcome") == "fallback"
    assert message.badge_text().startswith(f"answered by {backup} after 1 fallback in ")
    assert "rgba(211, 154, 28" in message.badge.styleSheet(), "the theme's amber (degraded) colour"

    # The header's meter follows the model that answered (4,096 tokens), not the dead 1,024 one.
    assert backup in page.meter.full_text() and "/ 4,096 tokens" in page.meter.full_text()
    assert first not in page.meter.full_text()

    # Reopened from the store, the same switch is shown.
    struck = abandoned.text()
    session = page.session_id
    assert session is not None
    page.new_chat()
    page.open_session(session)
    wait_until(h.loop, lambda: page.last_answer is not None)
    restored = page.last_answer
    assert restored is not None
    assert [w.objectName() for w in restored.flow_widgets] == ["abandonedText", "fallbackNotice"]
    assert restored.flow_widgets[0].text() == struck
    assert restored.badge.property("outcome") == "fallback"


def test_stop_with_escape_ends_as_stopped_not_working(
    harness_factory: Callable[..., AppHarness], llama_large: LlamaServer, qtbot: QtBot
) -> None:
    h = harness_factory(long_reply_settings(("large", llama_large.url)))
    page = chat_page(h)
    h.window.show_page("chat")
    page.input.setPlainText(STORY)
    qtbot.keyClick(page.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    wait_until(h.loop, lambda: page.current is not None and page.current.text != "", timeout=60)
    message = page.current
    assert message is not None and not message.finished
    assert message.badge_text().startswith("working…")
    qtbot.keyClick(page.input, Qt.Key.Key_Escape)
    wait_until(h.loop, lambda: page.current_rid is None, timeout=30)
    assert message.finished and message.badge_text() == "stopped — show attempts"
    assert message.badge.property("outcome") == "stopped"
    assert "working" not in message.badge.text()
    assert "stopped by you" in message.chain[-1]
    assert message.text != "" and message.body.text() == message.text, "what arrived stays readable"
    assert page.send_button.isEnabled() and not page.stop_button.isEnabled()


def test_a_quarantined_model_is_marked_in_the_picker_and_skipped_with_the_reason(
    harness_factory: Callable[..., AppHarness],
    llama_small: LlamaServer,
    llama_large: LlamaServer,
    qtbot: QtBot,
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url), ("large", llama_large.url)))
    small, large = key_of(h, "small"), key_of(h, "large")
    page = chat_page(h)
    h.window.show_page("chat")
    h.bridge.models.quarantine(small, "answers in Klingon", 1800)
    index = page.model_picker.findData(small)
    wait_until(h.loop, lambda: "quarantined" in page.model_picker.itemText(index))
    assert page.model_picker.itemText(index) == f"{small} — quarantined, 29 min left"
    tip = page.model_picker.itemData(index, Qt.ItemDataRole.ToolTipRole)
    assert "answers in Klingon" in tip
    assert page.model_picker.itemText(page.model_picker.findData(large)) == large, (
        "a model in rotation is unmarked"
    )

    page.model_picker.setCurrentIndex(index)
    page.input.setPlainText("Say hello.")
    qtbot.keyClick(page.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    wait_until(h.loop, lambda: page.current is not None and page.current.finished, timeout=90)
    message = page.current
    assert message is not None and message.model == large
    chain = message.chain_label.text()
    assert f"<b>{small}</b> skipped: quarantined by you — answers in Klingon (29 min left)" in chain
    assert message.badge.property("outcome") == "fallback", "not a clean first-choice answer"
    assert message.badge_text().endswith("(1 skipped)")


def test_an_open_circuit_is_marked_with_its_wait_in_words(
    harness_factory: Callable[..., AppHarness], llama_small: LlamaServer
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url)))
    snapshot = h.bridge.snapshot
    assert snapshot is not None
    model = snapshot.models[0]
    assert model_state(model) == ""
    assert model_state(replace(model, breaker="open", reopen_in_s=754.0)) == (
        "paused after failures, retry in 12 min"
    )
    assert model_state(replace(model, breaker="half_open", reopen_in_s=None)) == "paused, testing again"


def test_badge_is_green_only_for_a_clean_first_choice_answer(qtbot: QtBot) -> None:
    clean = MessageView("assistant")
    qtbot.addWidget(clean)
    clean.apply(AttemptStarted(0.0, "r", "a/m", 1, "first choice"))
    assert clean.badge.property("outcome") == "working" and clean.badge_text().startswith("working…")
    clean.apply(Completed(0.0, "r", "a/m", "Hi", None, None, 0.1, 0.5, 1))
    assert clean.badge.property("outcome") == "clean" and clean.badge_text() == "answered by a/m in 0.50 s"
    assert "rgba(46, 157, 87" in clean.badge.styleSheet(), "the theme's healthy green"
    assert clean.flow_widgets == []

    refused = MessageView("assistant")
    qtbot.addWidget(refused)
    refused.apply(AttemptStarted(0.0, "r", "a/m", 1, "first choice"))
    refused.apply(AttemptFailed(0.0, "r", "a/m", 1, FailureKind.CONNECTION_REFUSED, "refused", 0.01, False))
    refused.apply(FallbackChosen(0.0, "r", "a/m", "b/m", "a/m failed"))
    refused.apply(AttemptStarted(0.0, "r", "b/m", 2, "fallback"))
    refused.apply(AttemptFailed(0.0, "r", "b/m", 2, FailureKind.SERVER_ERROR, "500", 0.2, True))
    refused.apply(RetryScheduled(0.0, "r", "b/m", 2, 0.5, "server_error: retry 1 of 1"))
    refused.apply(Completed(0.0, "r", "b/m", "Hi", None, None, 0.1, 1.5, 2))
    texts = [w.text() for w in refused.flow_widgets]
    assert texts == [
        "↪ a/m failed (connection refused) → trying b/m",  # nothing was shown yet: nothing struck
        "↻ b/m failed (server error) → retrying in 0.5 s",
    ]
    assert refused.badge.property("outcome") == "fallback"
    assert refused.badge_text() == "answered by b/m after 1 fallback and 1 retry in 1.50 s"

    failed = MessageView("assistant")
    qtbot.addWidget(failed)
    failed.apply(AttemptStarted(0.0, "r", "a/m", 1, "first choice"))
    failed.apply(RequestFailed(0.0, "r", "no model could answer"))
    assert failed.badge.property("outcome") == "failed" and failed.badge_text() == "no answer — show attempts"


def test_a_quarantine_without_a_reason_reads_well_everywhere(
    harness_factory: Callable[..., AppHarness], llama_small: LlamaServer, llama_large: LlamaServer
) -> None:
    from steward.engine.events import Quarantined
    from steward.gui.pages.dashboard import DashboardPage
    from steward.gui.pages.events import EventsPage
    from steward.gui.pages.models import COLUMNS, ModelsPage
    from steward.gui.tray import notification_for

    h = harness_factory(llama_settings(("small", llama_small.url), ("large", llama_large.url)))
    small, large = key_of(h, "small"), key_of(h, "large")
    seen: list[Quarantined] = []
    h.bridge.engine_event.connect(lambda e: seen.append(e) if isinstance(e, Quarantined) else None)
    h.bridge.models.quarantine(small, "   ", 1799)  # the dialog's reason left blank
    wait_until(h.loop, lambda: seen)
    assert seen[0].reason == "", "no made-up reason"
    assert notification_for(seen[0]) == (f"{small} quarantined", "quarantined by you")
    assert h.window.statusBar().currentMessage() == f"{small} quarantined"

    page = chat_page(h)
    index = page.model_picker.findData(small)
    wait_until(h.loop, lambda: "quarantined" in page.model_picker.itemText(index))
    tip = page.model_picker.itemData(index, Qt.ItemDataRole.ToolTipRole)
    assert "quarantined by you\n" in tip and "quarantined by you:" not in tip
    dashboard = h.window.pages["dashboard"]
    assert isinstance(dashboard, DashboardPage)
    wait_until(h.loop, lambda: "<b>quarantined (29 min left)</b>" in dashboard.cards[small].status.text())
    models = h.window.pages["models"]
    assert isinstance(models, ModelsPage)
    row = next(r for r in range(models.table.rowCount()) if models.table.item(r, 1).text() == "small")
    assert models.table.item(row, COLUMNS.index("Health")).text() == "quarantined (29 min left)"
    events = h.window.pages["events"]
    assert isinstance(events, EventsPage)
    details = [events.table.item(r, 3).text() for r in range(events.table.rowCount())]
    assert any(d.startswith("quarantined by you (until ") for d in details), details

    page.model_picker.setCurrentIndex(index)
    h.window.show_page("chat")
    page.input.setPlainText("Say hello.")
    page.send_button.click()
    wait_until(h.loop, lambda: page.current is not None and page.current.finished, timeout=90)
    message = page.current
    assert message is not None and message.model == large
    assert f"<b>{small}</b> skipped: quarantined by you (29 min left)" in message.chain_label.text()
