"""The fitting policies, as pure functions over a conversation and its per-message token costs.

Every policy keeps the protected messages (the leading system prompt, the latest user turn and
whatever follows it), drops whole turns (a user message with the replies that follow it), and
returns the kept indices in their original order: nothing is ever reordered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from steward.engine.context.counting import Counts
from steward.engine.types import ChatMessage


@dataclass(frozen=True)
class Selection:
    """The messages a policy keeps (indices into the conversation, ascending) and their tokens."""

    kept: tuple[int, ...]
    tokens: int

    def dropped(self, size: int) -> tuple[int, ...]:
        keep = set(self.kept)
        return tuple(i for i in range(size) if i not in keep)


def protected_indices(messages: Sequence[ChatMessage]) -> tuple[int, ...]:
    """Leading system messages + the latest user message and everything after it."""
    head = 0
    while head < len(messages) and messages[head].role == "system":
        head += 1
    last_user = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].role == "user"), None)
    tail_from = last_user if last_user is not None else max(head, len(messages) - 1)
    return tuple(range(head)) + tuple(range(max(head, tail_from), len(messages)))


def turns(messages: Sequence[ChatMessage]) -> list[tuple[int, ...]]:
    """The droppable messages grouped into turns, oldest first (a turn starts at a user message)."""
    protected = set(protected_indices(messages))
    groups: list[list[int]] = []
    for i, message in enumerate(messages):
        if i in protected:
            continue
        if not groups or message.role == "user":
            groups.append([i])
        else:
            groups[-1].append(i)
    return [tuple(g) for g in groups]


def _drop_in_order(
    messages: Sequence[ChatMessage], counts: Counts, target: int, order: Sequence[tuple[int, ...]]
) -> Selection:
    kept = set(range(len(messages)))
    tokens = counts.total
    for turn in order:
        if tokens <= target:
            break
        kept.difference_update(turn)
        tokens -= sum(counts.costs[i] for i in turn)
    return Selection(tuple(sorted(kept)), tokens)


def sliding_window(messages: Sequence[ChatMessage], counts: Counts, target: int) -> Selection:
    """Drop the oldest turns until the conversation is within `target` tokens."""
    return _drop_in_order(messages, counts, target, turns(messages))


def truncate_middle(messages: Sequence[ChatMessage], counts: Counts, target: int) -> Selection:
    """Keep the first exchange and the most recent turns: drop from the second turn on, the first last."""
    groups = turns(messages)
    return _drop_in_order(messages, counts, target, groups[1:] + groups[:1])


def stop(messages: Sequence[ChatMessage], counts: Counts, target: int) -> Selection | None:
    """Keep everything if it fits `target`, else refuse (None)."""
    if counts.total <= target:
        return Selection(tuple(range(len(messages))), counts.total)
    return None
