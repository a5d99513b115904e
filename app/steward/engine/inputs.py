"""Check a conversation before any attempt: bad input is the caller's fault, never a model's.

Text that cannot be encoded as UTF-8 (lone surrogates, e.g. from invalid bytes in a command-line
argument decoded with `surrogateescape`) is repaired to U+FFFD and the repair is reported; an empty
conversation or a blank latest user message is refused as `bad_request` before any server sees it,
so it is never retried and never counted against a breaker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from steward.engine.types import ChatMessage

REPLACEMENT = "\ufffd"


@dataclass(frozen=True)
class CheckedInput:
    messages: tuple[ChatMessage, ...]
    notes: tuple[str, ...] = ()
    refusal: str | None = None


def repair_text(text: str) -> tuple[str, int]:
    """`text` with every lone surrogate replaced by U+FFFD, and how many were replaced."""
    try:
        text.encode("utf-8")
        return text, 0
    except UnicodeEncodeError:
        pass
    fixed = "".join(REPLACEMENT if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return fixed, sum(1 for ch in text if "\ud800" <= ch <= "\udfff")


def check_input(messages: Sequence[ChatMessage]) -> CheckedInput:
    """The conversation as it may be sent, what was repaired, or why it is refused."""
    if not messages:
        return CheckedInput((), refusal="the conversation is empty: nothing to answer")
    repaired: list[ChatMessage] = []
    fixed_total = 0
    for message in messages:
        text, fixed = repair_text(message.content)
        fixed_total += fixed
        repaired.append(message if not fixed else replace(message, content=text))
    notes: tuple[str, ...] = ()
    if fixed_total:
        notes = (f"{fixed_total} invalid character(s) (not valid UTF-8) replaced with U+FFFD",)
    latest_user = next((m for m in reversed(repaired) if m.role == "user"), None)
    if latest_user is not None and not latest_user.content.strip():
        return CheckedInput(tuple(repaired), notes, "the prompt is empty: type a question first")
    if all(not m.content.strip() for m in repaired):
        return CheckedInput(tuple(repaired), notes, "every message is empty: nothing to answer")
    return CheckedInput(tuple(repaired), notes)
