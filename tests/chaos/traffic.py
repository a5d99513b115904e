"""Normal traffic, as a person chatting or a small agent working would send it: what to ask next and
how long to think before asking.

Three kinds of request, drawn at random: a short question (a line), a long one (a paragraph or a
function to read, a few hundred tokens of prompt), and an agent turn (a system prompt and a few
earlier turns before the question). Reply lengths are drawn log-uniformly between 8 and 128 tokens
(short answers are as common as long ones), temperature is mostly the server's default. Between two
requests a client thinks for an exponential time, and now and then takes a longer break (reading the
answer, writing code). Everything comes from the seeded `random.Random` the caller passes, so a run
is replayable request for request.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

SHORT = (
    "What is the capital of France?",
    "Give me a synonym for happy.",
    "How many legs does a spider have?",
    "What does HTTP stand for?",
    "Name three primary colours.",
    "Is 17 a prime number?",
    "Translate 'good morning' into Spanish.",
    "What is the boiling point of water in Celsius?",
    "Who wrote Romeo and Juliet?",
    "What is 12 times 8?",
    "Suggest a name for a grey cat.",
    "What is a list comprehension in Python?",
)

PARAGRAPH = (
    "The city council met on Tuesday evening to discuss the new cycling lanes planned for the old town. "
    "Residents of the narrow streets near the market said the lanes would take away the few parking places "
    "left, while shop owners were divided: some expect more customers on bicycles, others fear deliveries "
    "will become harder in the morning hours. The council's traffic office presented counts from the last "
    "two summers showing that bicycle traffic doubled on the river road after a similar lane opened there, "
    "and that accidents fell by a third. A decision was postponed until the office has asked the delivery "
    "companies how they would reach the market if the lanes are built, and until a second hearing for the "
    "residents has taken place next month."
)

CODE = '''def merge_intervals(intervals):
    """Merge overlapping [start, end] intervals."""
    ordered = sorted(intervals, key=lambda pair: pair[0])
    merged = []
    for start, end in ordered:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def busiest_hour(events):
    counts = {}
    for event in events:
        hour = event["time"].hour
        counts[hour] = counts.get(hour, 0) + 1
    return max(counts, key=counts.get) if counts else None
'''

LONG = (
    f"Summarize this news item in two sentences.\n\n{PARAGRAPH}",
    f"List the arguments for and against the cycling lanes in this text.\n\n{PARAGRAPH}",
    f"What does this Python code do? Explain briefly.\n\n```python\n{CODE}```",
    f"Find a bug or an edge case in this code.\n\n```python\n{CODE}```",
    f"Write a short headline for this article.\n\n{PARAGRAPH}\n\n{PARAGRAPH[:400]}",
)

SYSTEM = (
    "You are a helpful assistant inside a note-taking app. Answer briefly and precisely. When the user asks "
    "for a list, give at most five items. When you do not know, say so. Never invent file names."
)

AGENT_TURNS = (
    ("user", "I keep my meeting notes in one file per week. How should I name the files?"),
    ("assistant", "Use the ISO week, for example 2026-W48.md, so the files sort by date."),
    ("user", "And where do I put action items?"),
    ("assistant", "At the top of each file, under a heading 'Actions', one line per item with an owner."),
)

AGENT_QUESTIONS = (
    "Now write the heading and two example action items.",
    "How do I find all open action items across files?",
    "Should I keep a separate file for decisions?",
    "Give me a template for the whole weekly file.",
)


@dataclass(frozen=True)
class Ask:
    """One request to send: its kind (for the report), messages, reply cap and temperature."""

    kind: str
    messages: tuple[tuple[str, str], ...]
    max_tokens: int
    temperature: float | None


WEIGHTS = {"short": 0.5, "long": 0.3, "agent": 0.2}
MIN_TOKENS, MAX_TOKENS = 8, 128


def next_ask(rng: random.Random) -> Ask:
    kind = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
    if kind == "short":
        messages: tuple[tuple[str, str], ...] = (("user", rng.choice(SHORT)),)
    elif kind == "long":
        messages = (("user", rng.choice(LONG)),)
    else:
        turns = AGENT_TURNS[: 2 * rng.randint(0, len(AGENT_TURNS) // 2)]
        messages = (("system", SYSTEM), *turns, ("user", rng.choice(AGENT_QUESTIONS)))
    max_tokens = round(math.exp(rng.uniform(math.log(MIN_TOKENS), math.log(MAX_TOKENS))))
    temperature = rng.choice((None, None, None, 0.0, 0.7))
    return Ask(kind, messages, max_tokens, temperature)


def think_time(rng: random.Random, mean_s: float) -> float:
    """Seconds before a client's next request: mostly a few seconds, sometimes a break."""
    if rng.random() < 0.1:
        return rng.uniform(4 * mean_s, 10 * mean_s)  # reading the answer, writing code
    return min(rng.expovariate(1 / mean_s), 5 * mean_s)
