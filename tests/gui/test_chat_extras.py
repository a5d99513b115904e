"""Chat page extras against REAL llama-servers: fit notice on a long conversation, sessions that
survive a window restart, and "retry with…" another model."""

from __future__ import annotations

import time
from collections.abc import Callable

from pytestqt.qtbot import QtBot

from steward.store import ChatMessage as StoredMessage
from tests.gui.conftest import AppHarness, ask, chat_page, llama_settings, wait_until
from tests.support.llama import LlamaServer


def model_key(h: AppHarness, server_id: str) -> str:
    snapshot = h.bridge.snapshot
    assert snapshot is not None
    return next(m.key for m in snapshot.models if m.server_id == server_id)


def test_long_stored_conversation_shows_the_fit_notice_and_show_reveals_the_dropped_text(
    harness_factory: Callable[..., AppHarness], llama_factory: Callable[..., LlamaServer], qtbot: QtBot
) -> None:
    # Greedy sampling: the same answer every run (at random temperature SmolLM2 sometimes went round in
    # circles here, and Steward rightly refused that as degenerate output).
    tiny = llama_factory(ctx=512, extra=["--temp", "0"])
    h = harness_factory(llama_settings(("tiny", tiny.url)))
    store = h.bridge.store
    assert store is not None
    session = store.create_session("a long talk", time.time())
    first = "Message one is about the history of lighthouses. " * 8
    turns = [first] + [f"Message {n} is about the weather in city number {n}. " * 8 for n in range(2, 9)]
    for index, text in enumerate(turns):
        role = "user" if index % 2 == 0 else "assistant"
        store.append_message(StoredMessage(session, role, text, time.time()))
    page = chat_page(h)
    store.flush()  # the session was written behind the app's back: list the sessions again
    page.refresh_sessions()
    wait_until(h.loop, lambda: session in page.sessions.ids())
    page.open_session(session)
    wait_until(h.loop, lambda: len(page.history) == len(turns))
    assert "/ 512 tokens" in page.meter.text(), "the meter shows the model's window"
    ask(h, "Summarize our talk in one sentence.")
    message = page.current
    assert message is not None and message.model is not None, message.notices
    assert message.notice_label.isVisible()
    notice = message.notice_label.text()
    assert "dropped to fit" in notice and "512 tokens" in notice and "show" in notice
    assert not message.dropped_label.isVisible()
    message.notice_label.linkActivated.emit("show-dropped")
    assert message.dropped_label.isVisible()
    assert first.strip() in message.dropped_label.text(), "the whole dropped message, not a preview"


def test_a_chat_is_listed_and_reopened_after_a_window_restart(
    harness_factory: Callable[..., AppHarness], llama_small: LlamaServer, qtbot: QtBot
) -> None:
    settings = llama_settings(("small", llama_small.url))
    first = harness_factory(settings)
    ask(first, "Say hello to the lighthouse keeper.")
    answer = chat_page(first).current
    assert answer is not None and answer.model is not None
    answer_text = answer.text
    first.loop.run_until_complete(first.bridge.shutdown())
    first.window.close()

    second = harness_factory(settings)  # same data directory: the same history database
    page = chat_page(second)
    wait_until(second.loop, lambda: page.sessions.list.count() == 1)
    item = page.sessions.list.item(0)
    assert item.text().startswith("Say hello to the lighthouse keeper")
    page.sessions.list.setCurrentItem(item)
    page.sessions.chosen.emit(page.sessions.current_id())
    wait_until(second.loop, lambda: len(page.history) == 2)
    assert page.history == [("user", "Say hello to the lighthouse keeper."), ("assistant", answer_text)]
    restored = page.last_answer
    assert restored is not None and restored.model == answer.model, "the attempt chain came back"
    assert restored.badge.text().startswith("▸ answered by small/")


def test_retry_with_another_model_answers_from_that_model(
    harness_factory: Callable[..., AppHarness],
    llama_small: LlamaServer,
    llama_large: LlamaServer,
    qtbot: QtBot,
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url), ("large", llama_large.url)))
    small, large = model_key(h, "small"), model_key(h, "large")
    page = chat_page(h)
    page.model_picker.setCurrentIndex(page.model_picker.findData(small))
    ask(h, "Name a colour.")
    original = page.current
    assert original is not None and original.model == small
    assert original.retry_button.isVisible()
    actions = {a.text(): a for a in original.retry_menu.actions()}
    assert set(actions) == {large}, "retry offers the other models"
    actions[large].trigger()
    wait_until(h.loop, lambda: page.current is not original and page.current is not None)
    wait_until(h.loop, lambda: page.current is not None and page.current.finished, timeout=90)
    retried = page.current
    assert retried is not None and retried.model == large
    assert "superseded" in original.header.text() and not original.retry_button.isVisible()
    assert [role for role, _ in page.history] == ["user", "assistant"]
    assert page.history[-1] == ("assistant", retried.text)
