"""Issue 16 item 4, in the window: the answer's 0–10 quality score (carried by Completed) is in its
attempt chain, shown on demand (the badge) — here a REAL SmolLM2 answer cut at 4 tokens loses the
"cut_short" points — and a stored answer reopened shows the same line."""

from __future__ import annotations

from collections.abc import Callable

from steward.config import Settings
from steward.gui.pages.chat_message import MessageView
from tests.gui.conftest import AppHarness, ask, chat_page, llama_settings
from tests.support.llama import LlamaServer


def test_the_quality_score_is_in_the_attempt_chain_on_demand(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer
) -> None:
    settings = llama_settings(("small", llama_small.url)).with_changes("context.max_reply_tokens", 4)
    h = harness_factory(settings)
    ask(h, "Write a long story about a dragon who learns to bake bread.")
    message = chat_page(h).current
    assert message is not None and message.model is not None, message.chain
    quality = [line for line in message.chain if line.startswith("★ quality ")]
    assert len(quality) == 1 and "cut_short (−2)" in quality[0], message.chain
    assert message.chain.index(quality[0]) == len(message.chain) - 1, "right after the answering model"
    assert not message.chain_label.isVisible(), "the chain (and the score) is shown on demand"
    message.badge.setChecked(True)
    assert message.chain_label.isVisible() and "★ quality " in message.chain_label.text()

    reopened = MessageView("assistant", sent=list(message.sent))
    reopened.restore(message.text, list(message.records))
    assert [line for line in reopened.chain if line.startswith("★ quality ")] == quality
