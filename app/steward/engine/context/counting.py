"""Prompt token counts per message: exact where the server can count, else a calibrated estimate.

A conversation costs `frame + Σ cost(message)`, where `frame` is what the chat template adds once
(BOS, generation prompt, an injected default system prompt). Chat templates delimit messages with
special tokens, so this sum is exact for them.

Exact (llama.cpp `/apply-template` + `/tokenize`):
`cost(m) = count([ANCHOR, m, TAIL]) − count([ANCHOR, TAIL])`. `m` is never last, because templates
render a trailing assistant message as a prefill (no end token, no generation prompt). Costs are
cached per message (the frozen `ChatMessage` is the key: its hash covers role and content). The
frame is measured once per model and per "starts with a system message or not" from one
whole-conversation count.

A new turn usually brings 2..BATCH_MAX new messages at the end of an already counted conversation
(the previous answer and the new question). They are counted in ONE round trip:
`count([ANCHOR, m1, …, mk, TAIL]) − count([ANCHOR, TAIL])` is the exact sum of their costs, which
is then shared out in proportion to the estimator's guess for each (`split`). So the conversation's total stays exact; only how that sum divides between the
messages counted together is approximate, which matters only for a subset that keeps some of them
and drops others (off by a few tokens, well inside the truncation tolerance of an exact count).
Policies keep the newest messages, so that rarely happens. A single new message, more than
BATCH_MAX of them, new messages that are not all at the end, or a conversation seen for the first
time are counted one message at a time (in parallel) and exactly, as the policies may drop any of
those and need their own costs.

Estimated (everyone else): `ceil(chars / chars_per_token) + per_message`, with `chars_per_token`
starting at 4 and following an EWMA of what the server reports in `usage.prompt_tokens`.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from steward.engine.failures import BackendError, FailureKind
from steward.engine.registry import ModelState
from steward.engine.types import ChatMessage

ANCHOR = ChatMessage("system", "x")
TAIL = ChatMessage("user", "x")
CACHE_LIMIT = 8192  # cached message costs per model (oldest evicted first)
BATCH_MAX = 8  # up to this many new messages share one count; more are counted one by one


def split(total: int, weights: Sequence[int]) -> list[int]:
    """`total` shared out in proportion to `weights` (largest remainder): whole shares summing to `total`."""
    if total <= 0 or not weights:
        return [0] * len(weights)
    positive = [max(1, w) for w in weights]
    whole = sum(positive)
    shares = [total * w // whole for w in positive]
    remainders = sorted(range(len(positive)), key=lambda i: (-(total * positive[i] % whole), i))
    for i in remainders[: total - sum(shares)]:
        shares[i] += 1
    return shares


@dataclass(frozen=True)
class Counts:
    """Per-message costs (parallel to the messages) plus the template frame."""

    costs: tuple[int, ...]
    frame: int
    exact: bool

    @property
    def total(self) -> int:
        return self.frame + sum(self.costs)

    def of(self, indices: Sequence[int]) -> int:
        """Tokens of the conversation made of `indices` only."""
        return self.frame + sum(self.costs[i] for i in indices)


@dataclass
class Estimator:
    """chars/token for one model, learnt from reported prompt tokens (EWMA)."""

    chars_per_token: float = 4.0
    per_message: int = 4
    frame: int = 3
    alpha: float = 0.3
    samples: int = 0

    def message(self, message: ChatMessage) -> int:
        return self.per_message + math.ceil(len(message.content) / self.chars_per_token)

    def observe(self, messages: Sequence[ChatMessage], reported: int) -> None:
        """Move chars/token towards what `reported` tokens for `messages` imply."""
        chars = sum(len(m.content) for m in messages)
        content_tokens = reported - self.frame - self.per_message * len(messages)
        if chars <= 0 or content_tokens <= 0:
            return
        observed = min(12.0, max(0.8, chars / content_tokens))
        self.chars_per_token += self.alpha * (observed - self.chars_per_token)
        self.samples += 1


@dataclass
class _ModelCounts:
    estimator: Estimator = field(default_factory=Estimator)
    exact_supported: bool | None = None  # None: not tried yet
    anchor: int | None = None
    frames: dict[bool, int] = field(default_factory=dict)
    costs: dict[ChatMessage, int] = field(default_factory=dict)

    def remember(self, message: ChatMessage, cost: int) -> None:
        if len(self.costs) >= CACHE_LIMIT:
            del self.costs[next(iter(self.costs))]
        self.costs[message] = cost


class TokenCounter:
    """Counts conversations for each model; remembers what it counted."""

    def __init__(self) -> None:
        self._models: dict[str, _ModelCounts] = {}
        self.server_counts = 0  # calls to Backend.count_tokens (for tests and the bench)

    def _of(self, state: ModelState) -> _ModelCounts:
        entry = self._models.get(state.key)
        if entry is None:
            entry = self._models[state.key] = _ModelCounts()
        return entry

    def estimator(self, state: ModelState) -> Estimator:
        return self._of(state).estimator

    def is_exact(self, state: ModelState) -> bool:
        return self._of(state).exact_supported is True

    async def count(self, state: ModelState, messages: Sequence[ChatMessage]) -> Counts:
        """Counts for `messages`, asking the server only about messages it has not seen."""
        entry = self._of(state)
        if entry.exact_supported is not False:
            try:
                exact = await self._exact(state, entry, messages)
            except BackendError as exc:
                if exc.kind in (FailureKind.BAD_REQUEST, FailureKind.BAD_RESPONSE):
                    entry.exact_supported = False  # the template/endpoint cannot do it; stop asking
                exact = None
            if exact is not None:
                return exact
        return self.estimate(state, messages)

    def known(self, state: ModelState, messages: Sequence[ChatMessage]) -> Counts | None:
        """The counts when no server round trip is needed (the server cannot count, or every
        message and the frame are cached), else None. The per-request fast path: no I/O, no task."""
        entry = self._of(state)
        if entry.exact_supported is False:
            return self.estimate(state, messages)
        if entry.exact_supported:
            counts = self.estimate(state, messages)
            return counts if counts.exact else None
        return None

    def estimate(self, state: ModelState, messages: Sequence[ChatMessage]) -> Counts:
        """Counts without I/O: cached exact costs where known, the estimator elsewhere."""
        entry = self._of(state)
        est = entry.estimator
        if entry.exact_supported:
            cached = [entry.costs.get(m) for m in messages]
            costs = tuple(est.message(m) if c is None else c for m, c in zip(messages, cached, strict=True))
            first_system = bool(messages) and messages[0].role == "system"
            frame = entry.frames.get(first_system, est.frame)
            exact = all(m in entry.costs for m in messages) and first_system in entry.frames
            return Counts(costs, frame, exact)
        return Counts(tuple(est.message(m) for m in messages), est.frame, False)

    async def cost(self, state: ModelState, message: ChatMessage) -> int:
        """The cost of one (new) message, e.g. a summary."""
        counts = await self.count(state, [message])
        return counts.costs[0]

    def observe(self, state: ModelState, messages: Sequence[ChatMessage], reported: int) -> None:
        """Feed the estimator with the prompt tokens the server reported for `messages`."""
        self._of(state).estimator.observe(messages, reported)

    async def _server_count(self, state: ModelState, messages: Sequence[ChatMessage]) -> int | None:
        self.server_counts += 1
        return await state.backend.count_tokens(state.ref.model, messages)

    async def _exact(
        self, state: ModelState, entry: _ModelCounts, messages: Sequence[ChatMessage]
    ) -> Counts | None:
        if entry.anchor is None:
            anchor = await self._server_count(state, [ANCHOR, TAIL])
            if anchor is None:
                entry.exact_supported = False
                return None
            entry.anchor = anchor
        known = {m: entry.costs[m] for m in messages if m in entry.costs}
        missing = list(dict.fromkeys(m for m in messages if m not in known))
        newest = len(messages)
        while newest > 0 and messages[newest - 1] not in known:
            newest -= 1
        grew = newest > 0 and all(m in known for m in messages[:newest])  # the new ones are the newest
        batch = grew and 2 <= len(missing) <= BATCH_MAX
        counted = await self._count_new(state, entry.estimator, entry.anchor, missing, batch)
        if counted is None:
            entry.exact_supported = False
            return None
        for message, cost in zip(missing, counted, strict=True):
            known[message] = cost
            entry.remember(message, cost)
        costs = tuple(known[m] for m in messages)
        first_system = bool(messages) and messages[0].role == "system"
        if first_system not in entry.frames and messages:
            whole = await self._server_count(state, messages)
            if whole is None:
                entry.exact_supported = False
                return None
            entry.frames[first_system] = whole - sum(costs)
        entry.exact_supported = True
        return Counts(costs, entry.frames.get(first_system, 0), True)

    async def _count_new(
        self,
        state: ModelState,
        estimator: Estimator,
        anchor: int,
        missing: Sequence[ChatMessage],
        batch: bool,
    ) -> list[int] | None:
        """Costs of `missing` (none cached yet): one round trip for all if `batch`, else one each."""
        if batch:
            tokens = await self._server_count(state, [ANCHOR, *missing, TAIL])
            if tokens is None:
                return None
            return split(max(0, tokens - anchor), [estimator.message(m) for m in missing])
        counted = await asyncio.gather(*(self._server_count(state, [ANCHOR, m, TAIL]) for m in missing))
        if any(tokens is None for tokens in counted):
            return None
        return [max(0, tokens - anchor) for tokens in counted if tokens is not None]
