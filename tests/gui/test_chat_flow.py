"""The real window driving the real engine against REAL llama-servers (offscreen)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from steward.gui.pages.dashboard import DashboardPage
from steward.gui.pages.models import ModelsPage
from tests.gui.conftest import AppHarness, ask, chat_page, llama_settings, wait_until
from tests.support.llama import LlamaServer


def test_prompt_streams_an_answer_with_its_badge(
    harness_factory: Callable[..., AppHarness], llama_small: LlamaServer, qtbot: QtBot
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url)))
    page = chat_page(h)
    tokens: list[str] = []
    h.bridge.chat.chat_event.connect(
        lambda rid, e: tokens.append(getattr(e, "text", "")) if e.type == "Token" else None
    )
    ask(h, qtbot=qtbot, text="What is the capital of France? Answer in one word.")
    message = page.current
    assert message is not None and not message.failed
    assert len(tokens) > 1, "the answer arrived as a stream of tokens"
    assert message.body.text().strip() == "".join(tokens).strip() != ""
    assert message.badge.isVisible() and message.badge.text().startswith("▸ answered by small/")
    qtbot.mouseClick(message.badge, Qt.MouseButton.LeftButton)
    assert message.chain_label.isVisible() and "answered in" in message.chain_label.text()
    dashboard = h.window.pages["dashboard"]
    assert isinstance(dashboard, DashboardPage) and message.model is not None
    assert list(dashboard.cards[message.model].outcomes) == [True], "the success sparkline got one green bar"


def test_stopped_primary_shows_the_failed_attempt_and_the_fallback_answer(
    harness_factory: Callable[..., AppHarness],
    llama_factory: Callable[..., LlamaServer],
    llama_large: LlamaServer,
    qtbot: QtBot,
) -> None:
    primary = llama_factory(ctx=1024)
    h = harness_factory(llama_settings(("primary", primary.url), ("backup", llama_large.url)))
    snapshot = h.bridge.snapshot
    assert snapshot is not None
    primary_key = next(m.key for m in snapshot.models if m.server_id == "primary")
    page = chat_page(h)
    page.model_picker.setCurrentIndex(page.model_picker.findData(primary_key))
    primary.stop()
    ask(h, qtbot=qtbot, text="Say hello.")
    message = page.current
    assert message is not None and message.model is not None and message.model.startswith("backup/")
    chain = message.chain_label.text()
    assert "primary/" in chain and "connection_refused" in chain and "fallback to" in chain


def test_quarantine_from_models_page_routes_around_and_release_restores(
    harness_factory: Callable[..., AppHarness],
    llama_small: LlamaServer,
    llama_large: LlamaServer,
    qtbot: QtBot,
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url), ("large", llama_large.url)))
    models = h.window.pages["models"]
    assert isinstance(models, ModelsPage)
    h.window.show_page("models")
    snapshot = h.bridge.snapshot
    assert snapshot is not None
    small_key = next(m.key for m in snapshot.models if m.server_id == "small")
    models.select(small_key)
    h.bridge.models.quarantine(models.selected_key() or "", "testing quarantine", None)
    dashboard = h.window.pages["dashboard"]
    assert isinstance(dashboard, DashboardPage)
    wait_until(h.loop, lambda: "quarantined" in dashboard.cards[small_key].status.text())
    page = chat_page(h)
    page.model_picker.setCurrentIndex(page.model_picker.findData(small_key))
    ask(h, qtbot=qtbot, text="Say hello.")
    message = page.current
    assert message is not None
    assert message.model is not None, (message.chain, message.notices)
    assert message.model.startswith("large/")
    assert "skipped" in message.chain_label.text() and "testing quarantine" in message.chain_label.text()
    models.select(small_key)
    qtbot.mouseClick(models.release_button, Qt.MouseButton.LeftButton)
    wait_until(h.loop, lambda: "quarantined" not in dashboard.cards[small_key].status.text())
    ask(h, qtbot=qtbot, text="Say hello again.")
    again = chat_page(h).current
    assert again is not None and again.model == small_key


def test_a_sent_message_lists_its_conversation_at_once_and_after_a_reread(
    harness_factory: Callable[..., AppHarness], llama_small: LlamaServer
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url)))
    page = chat_page(h)
    store = h.bridge.store
    assert store is not None
    before = store.list_sessions()  # a read of the store that began before the first message
    ask(h, "Say hello to the conversations list.")
    session = page.session_id
    assert session is not None, "the first message created a stored conversation"
    assert page.sessions.ids() == [session], "listed as soon as it was sent"
    assert page.sessions.current_id() == session
    assert page.sessions.list.item(0).text() == "Say hello to the conversations list."
    page.sessions.set_sessions(before, page.session_id)  # ... and lands after it: no conversation lost
    assert page.sessions.ids() == [session] and page.sessions.current_id() == session
    page.refresh_sessions()  # read back from the store: still there, still selected, counted
    wait_until(h.loop, lambda: "2 messages" in page.sessions.list.item(0).toolTip())
    assert page.sessions.ids() == [session] and page.sessions.current_id() == session
