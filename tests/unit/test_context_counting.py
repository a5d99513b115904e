"""TokenCounter against a FAKE counting backend: several new messages cost ONE server count with an
exact total (only the split between them is estimated), one new message stays exact, a conversation
seen for the first time is counted message by message, and `split` shares out a total exactly."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from tests.support.fake_clock import FakeClock
from tests.support.fake_counting_backend import PER_MESSAGE, CountingFakeBackend, fake_count

from steward.engine.context.counting import ANCHOR, BATCH_MAX, TAIL, TokenCounter, split
from steward.engine.core import Engine
from steward.engine.registry import ModelState
from steward.engine.settings import EngineSettings
from steward.engine.types import ChatMessage, ModelInfo


def setup(clock: FakeClock) -> tuple[TokenCounter, ModelState, CountingFakeBackend]:
    engine = Engine(EngineSettings(), clock=clock)
    backend = CountingFakeBackend("s", clock, {"m": 8192})
    engine.add_backend(backend)
    return TokenCounter(), engine.add_model("s", ModelInfo("m", loaded_context=8192)), backend


def base() -> list[ChatMessage]:
    return [ChatMessage("system", "Be brief."), ChatMessage("user", "Hello there, how are you?")]


def true_cost(message: ChatMessage) -> int:
    return len(message.content.split()) + PER_MESSAGE


async def warm(counter: TokenCounter, state: ModelState, backend: CountingFakeBackend) -> None:
    """Anchor, frame and the base messages counted; the call log cleared."""
    await counter.count(state, base())
    backend.count_calls.clear()
    counter.server_counts = 0


@pytest.mark.parametrize("k", [2, 3, BATCH_MAX])
async def test_k_new_messages_cost_one_count_with_an_exact_total(fake_clock: FakeClock, k: int) -> None:
    counter, state, backend = setup(fake_clock)
    await warm(counter, state, backend)
    new = [
        ChatMessage("assistant" if i % 2 == 0 else "user", " ".join(["word"] * (3 + 7 * i))) for i in range(k)
    ]
    messages = [*base(), *new]
    counts = await counter.count(state, messages)
    assert backend.count_calls == [(ANCHOR, *new, TAIL)] and counter.server_counts == 1
    assert counts.exact and counts.total == fake_count(messages)
    assert sum(counts.costs[2:]) == sum(true_cost(m) for m in new)  # the new messages' sum is exact
    assert list(counts.costs[:2]) == [true_cost(m) for m in base()]  # cached exact costs untouched
    assert list(counts.costs[2:]) == sorted(counts.costs[2:])  # shared out by size: longer costs more


async def test_batched_costs_are_cached_per_message(fake_clock: FakeClock) -> None:
    counter, state, backend = setup(fake_clock)
    await warm(counter, state, backend)
    new = [ChatMessage("assistant", "Fine, thanks."), ChatMessage("user", "Tell me a joke please.")]
    first = await counter.count(state, [*base(), *new])
    again = await counter.count(state, [*base(), *new])
    assert len(backend.count_calls) == 1 and again == first
    assert counter.estimate(state, [*base(), *new]) == first  # no I/O: the cache alone is exact
    later = [*base(), *new, ChatMessage("assistant", "No.")]
    counts = await counter.count(state, later)
    assert backend.count_calls[1:] == [(ANCHOR, ChatMessage("assistant", "No."), TAIL)]
    assert counts.costs[:4] == first.costs and counts.total == fake_count(later)


async def test_one_new_message_is_counted_alone_and_exactly(fake_clock: FakeClock) -> None:
    counter, state, backend = setup(fake_clock)
    await warm(counter, state, backend)
    new = ChatMessage("assistant", "A rather long answer with quite a few words in it.")
    counts = await counter.count(state, [*base(), new])
    assert backend.count_calls == [(ANCHOR, new, TAIL)]
    assert counts.costs[2] == true_cost(new) and counts.total == fake_count([*base(), new])


async def test_more_than_batch_max_new_messages_are_counted_one_by_one(fake_clock: FakeClock) -> None:
    counter, state, backend = setup(fake_clock)
    await warm(counter, state, backend)
    new = [ChatMessage("user", f"question {i} " + "x " * i) for i in range(BATCH_MAX + 1)]
    counts = await counter.count(state, [*base(), *new])
    assert sorted(backend.count_calls, key=str) == sorted(((ANCHOR, m, TAIL) for m in new), key=str)
    assert list(counts.costs[2:]) == [true_cost(m) for m in new]  # each one exact


async def test_a_first_seen_conversation_is_counted_message_by_message(fake_clock: FakeClock) -> None:
    counter, state, backend = setup(fake_clock)
    messages = [*base(), ChatMessage("assistant", "Well."), ChatMessage("user", "Longer question here?")]
    counts = await counter.count(state, messages)
    per_message = [call for call in backend.count_calls if call[0] == ANCHOR and len(call) == 3]
    assert sorted(per_message, key=str) == sorted(((ANCHOR, m, TAIL) for m in messages), key=str)
    assert list(counts.costs) == [true_cost(m) for m in messages] and counts.total == fake_count(messages)


async def test_new_messages_not_all_at_the_end_are_counted_one_by_one(fake_clock: FakeClock) -> None:
    counter, state, backend = setup(fake_clock)
    await warm(counter, state, backend)
    edited = ChatMessage("user", "Hello there, how are you today, my friend?")
    new = ChatMessage("assistant", "Very well.")
    messages = [base()[0], edited, ChatMessage("assistant", "Fine."), base()[1], new]
    counts = await counter.count(state, messages)
    assert len(backend.count_calls) == 3  # edited, "Fine." and new: each alone
    assert [counts.costs[1], counts.costs[4]] == [true_cost(edited), true_cost(new)]


@pytest.mark.parametrize(
    ("total", "weights"), [(10, [1, 1, 1]), (97, [5, 30, 2, 11]), (1, [3, 3]), (0, [4, 9]), (50, [0, 0])]
)
def test_split_shares_out_the_total_exactly_in_proportion(total: int, weights: Sequence[int]) -> None:
    shares = split(total, weights)
    assert sum(shares) == total and all(s >= 0 for s in shares)
    positive = [max(1, w) for w in weights]
    for share, weight in zip(shares, positive, strict=True):
        assert abs(share - total * weight / sum(positive)) < 1  # never a whole token off its fair share
