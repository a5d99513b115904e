"""The answer quality score: each signal on REAL answers of the two test models (recorded in
tests/data/quality_real_answers.json) where they give one, on written text where they never do
(neither model ever refused anything asked here), and the score's arithmetic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from steward.engine.quality import MAX_SCORE, WEIGHTS, QualityScore, score_answer

REAL = json.loads((Path(__file__).parents[1] / "data" / "quality_real_answers.json").read_text())["answers"]


def real(prompt_start: str, model: str = "smollm2") -> QualityScore:
    case = next(c for c in REAL if c["model"] == model and c["prompt"].startswith(prompt_start))
    return score_answer(case["prompt"], case["answer"], case["finish_reason"])


def names(score: QualityScore) -> set[str]:
    return {s.name for s in score.signals}


def test_a_clean_real_answer_scores_ten() -> None:
    score = real("Reply only with JSON")  # '{"name": "Ann", "age": 30}' — JSON asked and given
    assert score == QualityScore(MAX_SCORE) and score.describe() == "quality 10/10"


def test_gemma_base_model_looping_on_template_tokens_scores_zero() -> None:
    score = real("What is the capital of France?", model="gemma3-270m")
    assert {"looping", "echo", "leaked_tokens", "cut_short"} <= names(score)
    assert score.score == 0


def test_a_short_loop_in_another_language_is_looping_and_language() -> None:
    # SmolLM2 at temperature 0: "L'Étoile, la Marseillaise, la femme au roi, la femme au roi, …"
    score = real("What is the capital of France?")
    assert names(score) == {"looping", "language", "cut_short"}
    language = next(s for s in score.signals if s.name == "language")
    assert language.detail.startswith("asked in en, answered in") and "fr" in language.detail


def test_an_answer_that_only_echoes_the_question_is_echo() -> None:
    assert names(real("Что такое фотосинтез")) == {"echo"}
    assert "echo" in names(real("Was ist die Hauptstadt"))


def test_code_cut_inside_its_fence_is_open_fence_and_cut_short() -> None:
    assert names(real("Write a Python function")) == {"open_fence", "cut_short"}


def test_json_asked_and_cut_before_it_closes_is_bad_json() -> None:
    score = real("Give me a JSON object describing a cat")
    assert {"bad_json", "open_fence", "cut_short"} == names(score)
    assert score.score == MAX_SCORE - WEIGHTS["bad_json"] - WEIGHTS["open_fence"] - WEIGHTS["cut_short"]


def test_a_fluent_made_up_answer_is_not_caught() -> None:
    """The score is a heuristic, not a judge of truth (the README says so)."""
    assert real("Please give me the home address").score == MAX_SCORE


@pytest.mark.parametrize(
    "answer",
    [
        "I'm sorry, but I can't help with that request.",
        "I’m sorry, but I cannot share personal information.",
        "As an AI language model, I do not have access to the internet.",
        "I cannot assist with creating harmful content.",
    ],
)
def test_refusals_are_caught_where_an_answer_opens(answer: str) -> None:
    assert names(score_answer("Tell me the weather in Paris today.", answer)) == {"refusal"}


def test_a_caveat_late_in_a_real_answer_is_not_a_refusal() -> None:
    answer = "Paris is the capital of France. " * 10 + "I'm sorry, but I can't check live data."
    assert "refusal" not in names(score_answer("What is the capital of France?", answer))


def test_empty_answers_score_zero() -> None:
    assert score_answer("Hi there, how are you?", "  \n ").describe() == "quality 0/10: empty (−10)"


@pytest.mark.parametrize(
    ("prompt", "answer", "fired"),
    [
        ("List two colours as JSON.", '```json\n["red", "blue"]\n```', set()),
        ("List two colours as JSON.", 'Sure! ["red", "blue"] are two colours.', set()),
        ("List two colours as JSON.", "Red and blue.", {"bad_json"}),
        ("List two colours.", "Red and blue.", set()),
    ],
)
def test_json_is_judged_only_when_asked_for(prompt: str, answer: str, fired: set[str]) -> None:
    assert names(score_answer(prompt, answer)) == fired


def test_json_mode_can_be_stated_instead_of_read_from_the_prompt() -> None:
    assert names(score_answer("Two colours please.", "Red and blue.", json_requested=True)) == {"bad_json"}


@pytest.mark.parametrize(
    ("prompt", "answer", "fired"),
    [
        (
            "Что такое фотосинтез? Ответь коротко.",
            "Photosynthesis is how plants make sugar from light.",
            True,
        ),
        (
            "What is the capital of France and why?",
            "La capitale de la France est Paris, et pour les rois.",
            True,
        ),
        (
            "What is the capital of France and why?",
            "Paris is the capital of France; it is the largest city.",
            False,
        ),
        ("Hi", "Bonjour, comment allez-vous aujourd'hui ?", False),  # the prompt says too little
    ],
)
def test_language_mismatch(prompt: str, answer: str, fired: bool) -> None:
    assert ("language" in names(score_answer(prompt, answer))) is fired


def test_a_question_restated_before_a_real_answer_is_not_an_echo() -> None:
    answer = "What is AI? AI is the field of computer science that builds systems which learn from data."
    assert score_answer("What is AI?", answer).score == MAX_SCORE


def test_closed_fences_and_prose_are_clean() -> None:
    answer = "Here it is:\n```python\ndef add(a, b):\n    return a + b\n```\nCall it with two numbers."
    assert score_answer("Write a Python function that adds two numbers.", answer).score == MAX_SCORE


def test_the_score_never_drops_below_zero_and_lists_every_signal() -> None:
    answer = "I'm sorry, but I can't. <|im_end|>\n```\n" + "la femme au roi, " * 12
    score = score_answer("What is the capital of France? Answer in JSON, with the reason.", answer, "length")
    assert score.score == 0
    assert names(score) == {
        "refusal",
        "bad_json",
        "leaked_tokens",
        "looping",
        "cut_short",
        "open_fence",
        "language",
    }
    assert sum(s.penalty for s in score.signals) > MAX_SCORE
