"""Task-type classification of a prompt: a transparent keyword heuristic with a confidence."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class TaskType(StrEnum):
    CODING = "CODING"
    ARCHITECTURE = "ARCHITECTURE"
    TESTING = "TESTING"
    DEBUGGING = "DEBUGGING"
    DOCUMENTATION = "DOCUMENTATION"
    ANALYSIS = "ANALYSIS"
    PLANNING = "PLANNING"
    GENERAL = "GENERAL"


_KEYWORDS: dict[TaskType, tuple[str, ...]] = {
    TaskType.DEBUGGING: (
        "bug",
        "error",
        "exception",
        "traceback",
        "stack trace",
        "crash",
        "fails",
        "failing",
        "debug",
        "segfault",
        "doesn't work",
        "does not work",
        "broken",
        "fix",
    ),
    TaskType.TESTING: ("test", "unit test", "pytest", "coverage", "assert", "mock", "fixture", "tdd", "e2e"),
    TaskType.ARCHITECTURE: (
        "architecture",
        "design",
        "microservice",
        "scalab",
        "component",
        "module boundar",
        "system design",
        "trade-off",
        "tradeoff",
        "pattern",
        "layer",
    ),
    TaskType.DOCUMENTATION: (
        "document",
        "docstring",
        "readme",
        "explain this code",
        "comment",
        "docs",
        "tutorial",
    ),
    TaskType.ANALYSIS: (
        "analy",
        "compare",
        "evaluate",
        "assess",
        "review",
        "why does",
        "pros and cons",
        "summar",
    ),
    TaskType.PLANNING: (
        "plan",
        "roadmap",
        "steps to",
        "milestone",
        "schedule",
        "prioriti",
        "estimate",
        "strategy",
    ),
    TaskType.CODING: (
        "code",
        "function",
        "implement",
        "write a",
        "class ",
        "python",
        "javascript",
        "typescript",
        "rust",
        "golang",
        "java",
        "c++",
        "sql",
        "regex",
        "refactor",
        "algorithm",
        "script",
        "api",
    ),
}
# Keywords match at a word start ("api" must not match "capital"); stems like "analy" still match.
_PATTERNS = {
    task: tuple((w, re.compile(r"(?<![a-z])" + re.escape(w))) for w in words)
    for task, words in _KEYWORDS.items()
}
# One search per task type tells whether any of its keywords occurs (every request is classified;
# most prompts hit few types), and only then are its keywords listed one by one.
_ANY = {
    task: re.compile(r"(?<![a-z])(?:" + "|".join(re.escape(w) for w in words) + ")")
    for task, words in _KEYWORDS.items()
}
_CODE_MARKERS = re.compile(r"```|def |class |import |#include|=>|\bfn\b|;\s*$", re.MULTILINE)


@dataclass(frozen=True)
class TaskGuess:
    task: TaskType
    confidence: float
    matched: tuple[str, ...]

    def explain(self) -> str:
        if self.task is TaskType.GENERAL:
            return "general prompt (no task keywords)"
        words = ", ".join(f'"{m}"' for m in self.matched[:3])
        return f"{self.task.value.lower()} ({self.confidence:.0%}: {words})"


def classify_task(prompt: str) -> TaskGuess:
    """Guess the prompt's task type. Ties go to the more specific type (order above)."""
    text = prompt.lower()
    scores: dict[TaskType, list[str]] = {}
    for task, patterns in _PATTERNS.items():
        if not _ANY[task].search(text):
            continue
        hits = [word for word, pattern in patterns if pattern.search(text)]
        if hits:
            scores[task] = hits
    if _CODE_MARKERS.search(prompt):
        scores.setdefault(TaskType.CODING, []).append("code block")
    if not scores:
        return TaskGuess(TaskType.GENERAL, 0.5, ())
    order = list(_KEYWORDS)
    best = max(scores, key=lambda t: (len(scores[t]), -order.index(t)))
    total = sum(len(h) for h in scores.values())
    confidence = min(0.95, 0.4 + 0.6 * len(scores[best]) / total * min(1.0, len(scores[best]) / 2))
    return TaskGuess(best, round(confidence, 2), tuple(scores[best]))
