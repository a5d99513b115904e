"""Normal traffic, as a person chatting or a small agent working would send it: what to ask next and
how long to think before asking.

Three kinds of request, drawn at random: a short question (a line), a long one (notes or code to
read, a few hundred tokens of prompt), and an agent turn (a system prompt and a few earlier turns
before the question). Prompts are assembled from parts, so they are new each time as real ones are
(only an agent's system prompt and history repeat, and the server's prompt cache serves those). Reply lengths are drawn log-uniformly between 8 and 128 tokens
(short answers are as common as long ones), temperature is mostly the server's default. Between two
requests a client thinks for an exponential time, and now and then takes a longer break (reading the
answer, writing code). Everything comes from the seeded `random.Random` the caller passes, so a run
is replayable request for request.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


def short_question(rng: random.Random) -> str:
    """A one-line question, seldom the same twice (a repeated prompt is answered from the server's
    prompt cache, which real users rarely hit)."""
    words = ("happy", "quick", "bright", "calm", "old", "strange", "small", "brave")
    places = ("France", "Japan", "Peru", "Kenya", "Norway", "Canada", "Egypt", "Chile")
    templates = (
        lambda: f"What is the capital of {rng.choice(places)}?",
        lambda: f"Give me a synonym for {rng.choice(words)}.",
        lambda: f"What is {rng.randint(3, 99)} times {rng.randint(3, 99)}?",
        lambda: f"Is {rng.randint(10, 999)} a prime number?",
        lambda: (
            f"Translate 'good {rng.choice(('morning', 'night', 'luck', 'work'))}' into "
            f"{rng.choice(('Spanish', 'German', 'Italian', 'French'))}."
        ),
        lambda: (
            f"Suggest a name for a {rng.choice(('grey', 'black', 'ginger', 'white'))} "
            f"{rng.choice(('cat', 'dog', 'horse', 'parrot'))}."
        ),
        lambda: f"What does {rng.choice(('HTTP', 'CPU', 'JSON', 'SQL', 'DNS', 'RAM'))} stand for?",
        lambda: f"Name {rng.randint(2, 5)} {rng.choice(('primary colours', 'fruits', 'planets', 'rivers'))}.",
    )
    return rng.choice(templates)()


SENTENCES = (
    "The city council met on Tuesday evening to discuss the new cycling lanes planned for the old town.",
    "Residents of the narrow streets near the market said the lanes would take away the last parking places.",
    "Shop owners were divided: some expect more customers on bicycles, others fear harder deliveries.",
    "The traffic office showed counts from two summers: bicycle traffic doubled on the river road.",
    "Accidents on that road fell by a third after a similar lane opened there.",
    "A decision was postponed until the delivery companies have been asked how they would reach the market.",
    "A second hearing for the residents will take place next month in the town hall.",
    "The library will open on Sundays from March, staffed by volunteers for the first year.",
    "Our team moved the weekly planning meeting to Thursday mornings because of the new release schedule.",
    "The test servers were replaced last week; builds now take twelve minutes instead of twenty.",
    "Two customers reported that the export button produces an empty file when the list is filtered.",
    "The budget for the summer festival is ten percent lower than last year, mostly for the stage.",
    "Volunteers are needed for the cleaning day at the lake on the first Saturday of May.",
    "The bakery on the corner closes at the end of the month after forty years in the same family.",
    "The school will test a four-day week for the oldest classes, with longer lessons on those days.",
    "Water bills will rise slightly in autumn to pay for new pipes under the main street.",
)

CODE = (
    """def merge_intervals(intervals):
    ordered = sorted(intervals, key=lambda pair: pair[0])
    merged = []
    for start, end in ordered:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged
""",
    """def busiest_hour(events):
    counts = {}
    for event in events:
        hour = event["time"].hour
        counts[hour] = counts.get(hour, 0) + 1
    return max(counts, key=counts.get) if counts else None
""",
    """def chunks(items, size):
    for index in range(0, len(items), size):
        yield items[index:index + size]
""",
    """def parse_price(text):
    cleaned = text.replace("EUR", "").replace(",", ".").strip()
    return round(float(cleaned), 2)
""",
    """class Counter:
    def __init__(self):
        self.value = 0

    def add(self, amount=1):
        self.value += amount
        return self.value
""",
)


def long_prompt(rng: random.Random) -> str:
    """A pasted text or code with a task: a few hundred tokens, new each time."""
    if rng.random() < 0.6:
        task = rng.choice(
            (
                "Summarize this text in two sentences.",
                "List the main points of this text.",
                "Write a short headline for this text.",
                "What is the most important decision in this text?",
            )
        )
        body = " ".join(rng.sample(SENTENCES, rng.randint(5, 12)))
        return f"{task}\n\nNotes of {rng.randint(1, 28)}.{rng.randint(1, 12)}.:\n{body}"
    task = rng.choice(
        ("What does this Python code do? Explain briefly.", "Find a bug or an edge case in this code.")
    )
    code = "\n\n".join(rng.sample(CODE, rng.randint(2, len(CODE))))
    return f"{task}\n\n```python\n# {rng.choice(('utils', 'helpers', 'core', 'misc'))}_{rng.randint(1, 99)}.py\n{code}```"


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


def agent_question(rng: random.Random) -> str:
    n = rng.randint(2, 5)
    return rng.choice(
        (
            f"Now write the heading and {n} example action items.",
            f"How do I find all open action items across {n * 10} files?",
            f"Should I keep a separate file for decisions? We have {n} teams.",
            f"Give me a template for the weekly file of a team of {n}.",
        )
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
        messages: tuple[tuple[str, str], ...] = (("user", short_question(rng)),)
    elif kind == "long":
        messages = (("user", long_prompt(rng)),)
    else:
        turns = AGENT_TURNS[: 2 * rng.randint(0, len(AGENT_TURNS) // 2)]
        messages = (("system", SYSTEM), *turns, ("user", agent_question(rng)))
    max_tokens = round(math.exp(rng.uniform(math.log(MIN_TOKENS), math.log(MAX_TOKENS))))
    temperature = rng.choice((None, None, None, 0.0, 0.7))
    return Ask(kind, messages, max_tokens, temperature)


def think_time(rng: random.Random, mean_s: float) -> float:
    """Seconds before a client's next request: mostly a few seconds, sometimes a break."""
    if rng.random() < 0.1:
        return rng.uniform(4 * mean_s, 10 * mean_s)  # reading the answer, writing code
    return min(rng.expovariate(1 / mean_s), 5 * mean_s)
