"""The loop detector: repeated chunks and repeated phrases trip it; ordinary text never does."""

from __future__ import annotations

import itertools

import pytest

from steward.engine.degenerate import DegenerateDetector
from steward.engine.settings import DegenerateSettings

PROSE = (
    "Paris is the capital of France. It lies on the Seine, in the north of the country, and has "
    "been the seat of government since the tenth century. The city is known for its museums, "
    "among them the Louvre, and for landmarks such as the Eiffel Tower and Notre-Dame. About two "
    "million people live in the city itself and over twelve million in its metropolitan area. "
)


def feed_all(detector: DegenerateDetector, chunks: list[str]) -> int | None:
    """The index of the chunk that tripped the detector, or None."""
    for index, chunk in enumerate(chunks):
        if detector.feed(chunk):
            return index
    return None


def test_the_same_chunk_repeated_trips_at_the_configured_count() -> None:
    detector = DegenerateDetector(DegenerateSettings(repeat_chunks=24))
    assert feed_all(detector, ["<|im_end|>"] * 30) == 23
    assert detector.repeated == "<|im_end|>"


@pytest.mark.parametrize("period", [1, 2, 7, 31, 120])
def test_a_repeated_phrase_of_any_period_up_to_the_limit_trips(period: int) -> None:
    unit = "".join(chr(ord("a") + (i * 7) % 26) for i in range(period))
    text = unit * 400
    chunks = [text[i : i + 3] for i in range(0, len(text), 3)]  # split unlike the unit
    detector = DegenerateDetector(DegenerateSettings(repeat_chunks=10_000))
    tripped = feed_all(detector, chunks)
    assert tripped is not None
    settings = DegenerateSettings()
    enough = max(settings.cycle_min_chars, period * settings.cycle_min_repeats) + period
    assert (tripped + 1) * 3 <= enough + 16 + 3  # caught within one check interval of the minimum
    assert detector.repeated is not None and len(detector.repeated) == period


def test_a_phrase_longer_than_the_period_limit_is_not_looked_for() -> None:
    unit = "".join(chr(ord("a") + i % 26) for i in range(150))
    detector = DegenerateDetector(DegenerateSettings(cycle_max_period=120))
    assert feed_all(detector, [unit] * 5) is None


def test_ordinary_prose_and_code_never_trip() -> None:
    code = "".join(f"    value_{i} = compute({i}, factor={i * 3})\n" for i in range(60))
    table = "| name | size |\n|------|------|\n" + "".join(f"| model {i} | {i} GB |\n" for i in range(40))
    for text in (PROSE * 3, code, table, "-" * 80 + "\n" + PROSE):
        detector = DegenerateDetector(DegenerateSettings())
        chunks = [text[i : i + 4] for i in range(0, len(text), 4)]
        assert feed_all(detector, chunks) is None, text[:40]


def test_short_runs_of_blanks_are_not_a_loop_but_a_kilobyte_of_them_is() -> None:
    assert feed_all(DegenerateDetector(DegenerateSettings()), [" "] * 400 + ["\n"] * 400) is None
    assert feed_all(DegenerateDetector(DegenerateSettings()), [" "] * 700 + ["\n"] * 700) is not None


# What the real Gemma 3 270M base model answered to "What is the capital of France?" on llama-server
# (seed 1): a loop that varies a word each time, so it is never exactly periodic.
GEMMA_LOOP = "I will be making a list of the books in the library.\n" + "".join(
    f"<|im_end|>library\nI will be {verb} <|im_end|>the book.\n"
    for verb in ["reading", "looking", "checking", "reading", "looking", "reading", "checking"] * 5
)


def test_a_loop_with_small_variations_is_caught_by_how_well_it_compresses() -> None:
    detector = DegenerateDetector(DegenerateSettings(repeat_chunks=10_000, cycle_min_repeats=1000))
    words = GEMMA_LOOP.split(" ")
    assert feed_all(detector, [w + " " for w in words]) is not None
    assert "looping with small variations" in detector.describe()


def test_structured_but_varied_output_compresses_too_poorly_to_trip() -> None:
    records = "[" + ",".join(f'{{"id": {i}, "name": "item {i}", "ok": true}}' for i in range(60)) + "]"
    steps = "\n".join(f"{i}. Step {i}: run the tests for module number {i}" for i in range(80))
    for text in (records, steps):
        chunks = [text[i : i + 5] for i in range(0, len(text), 5)]
        assert feed_all(DegenerateDetector(DegenerateSettings()), chunks) is None, text[:30]


def test_the_compression_check_can_be_turned_off() -> None:
    detector = DegenerateDetector(
        DegenerateSettings(repeat_chunks=10_000, cycle_min_repeats=1000, compress_ratio=0.0)
    )
    assert feed_all(detector, [w + " " for w in GEMMA_LOOP.split(" ")]) is None


def test_counting_words_is_not_a_loop() -> None:
    words = [f" word{n}" for n in itertools.islice(itertools.count(), 500)]
    assert feed_all(DegenerateDetector(DegenerateSettings()), words) is None


def test_a_long_length_limited_reply_is_not_judged_by_its_vocabulary() -> None:
    # 200 chunks drawn from 30 words: repetitive, but long enough for the periodic and compression
    # checks to judge; the short-reply vocabulary rule must not call it a loop.
    words = [f" w{i % 30}" for i in range(200)]
    detector = DegenerateDetector(DegenerateSettings())
    for word in words:
        detector.feed(word)
    assert not detector.runs_in_circles(200)
    short = DegenerateDetector(DegenerateSettings())
    for word in ["Hello", "!", " "] * 5:
        short.feed(word)
    assert short.runs_in_circles(15)
