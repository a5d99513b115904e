"""A 0–10 quality score for one answer, from signals that need no other model.

Each signal that fires takes its weight off 10 (the score never drops below 0); an empty answer
scores 0 outright. The weights say how sure the signal is that the answer is useless to the user:

| signal       | weight | fires when                                                                   |
|--------------|--------|------------------------------------------------------------------------------|
| empty        | all 10 | nothing but whitespace came back                                             |
| looping      | 5      | the text goes round in circles (the engine's loop detector, run over it), or  |
|              |        | one 4-word phrase makes up a third of a 16+-word answer                      |
| echo         | 4      | it opens with the question and adds less than that, or asks it again         |
| refusal      | 4      | it opens with a refusal ("I'm sorry, but I can't…", "As an AI language model") |
| bad_json     | 4      | JSON was asked for and no JSON value can be read from the answer             |
| leaked_tokens| 3      | chat-template tokens leak into the text (`<|im_end|>`, `<end_of_turn>`, `</s>`) |
| language     | 3      | it answers in another language than the prompt (script, or for Latin script  |
|              |        | the most common words of en/fr/de/es/it/pt/nl)                               |
| cut_short    | 2      | the answer stopped at the length limit                                       |
| open_fence   | 2      | a ``` code fence is opened and never closed                                  |

Real bad answers this scores (tests/integration/test_quality_real.py): Gemma 3 270M, a base model,
answers a chat with an endless `<|im_end|>` loop (looping + leaked tokens + cut: 0–3); SmolLM2
stopped by a small max_tokens loses 2. The score is a heuristic to compare models and spot bad
streaks, not a judge of truth: a fluent wrong answer scores 10.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from steward.engine.degenerate import DegenerateDetector
from steward.engine.settings import DegenerateSettings

WEIGHTS: dict[str, float] = {
    "looping": 5.0,
    "echo": 4.0,
    "refusal": 4.0,
    "bad_json": 4.0,
    "leaked_tokens": 3.0,
    "language": 3.0,
    "cut_short": 2.0,
    "open_fence": 2.0,
}
"""What each signal takes off 10 (an empty answer scores 0 outright)."""

MAX_SCORE = 10.0

_REFUSAL = re.compile(
    r"\b(i'?m sorry,? but i (can'?t|cannot|am unable|won'?t)"
    r"|i (cannot|can'?t|am unable to|am not able to|won'?t) (help|assist|provide|comply|do that|answer)"
    r"|as an ai( language model)?,? i"
    r"|i must (decline|refuse))",
    re.IGNORECASE,
)
_REFUSAL_HEAD_CHARS = 240  # a refusal is how an answer opens; a caveat later on is not one
_LEAKED = re.compile(r"<\|[a-z_]{2,20}\|>|<(start|end)_of_turn>|</s>|\[/?INST\]|<\|endoftext\|>")
_JSON_WORD = re.compile(r"\bjson\b", re.IGNORECASE)
_FENCE = re.compile(r"^\s*(```|~~~)", re.MULTILINE)
_FENCED_JSON = re.compile(r"```(?:json)?\s*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)  # letters only: words of a language
_TOKEN = re.compile(r"\w+", re.UNICODE)  # words and numbers: "t0 t1 t2" is no repeated phrase


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The most frequent short words of the languages people most often prompt local models in; a text
# is in a language when several of these appear and clearly more than any other language's.
_COMMON_WORDS: dict[str, frozenset[str]] = {
    "en": _words("the and is are of to in that it for with you this what was be on not have"),
    "fr": _words("le la les et est des une un que pour dans pas qui sur avec vous ce sont du"),
    "de": _words("der die das und ist nicht ein eine zu den mit sich auf für ich sie es dem"),
    "es": _words("el la los las y es de que en un una por con para no se del como más"),
    "it": _words("il la che e di un una per non sono del della con gli le è nel come"),
    "pt": _words("os as de que em um uma para com não do da no na é se ao"),
    "nl": _words("de het een en van is dat niet in op te zijn met voor ik je die"),
}
_MIN_LETTERS = 12  # shorter texts say too little about their language
_MIN_COMMON_HITS = 3
_ECHO_MIN_CHARS = 6
_PHRASE_MIN_WORDS = 16
_PHRASE_MIN_REPEATS = 4
_PHRASE_SHARE = 1 / 3


@dataclass(frozen=True)
class Signal:
    """One reason an answer lost points."""

    name: str
    penalty: float
    detail: str


@dataclass(frozen=True)
class QualityScore:
    """The score (0–10) and the signals that took points off it (none for a clean answer)."""

    score: float
    signals: tuple[Signal, ...] = ()

    def describe(self) -> str:
        """One line for the attempt chain: "quality 5/10: looping (−5)" or "quality 10/10"."""
        head = f"quality {self.score:g}/10"
        if not self.signals:
            return head
        return head + ": " + ", ".join(f"{s.name} (−{s.penalty:g})" for s in self.signals)


def score_answer(
    prompt: str,
    answer: str,
    finish_reason: str | None = None,
    json_requested: bool | None = None,
    *,
    loop_checked: bool = False,
) -> QualityScore:
    """Score `answer` to `prompt` (the user's last message). `json_requested` None means: JSON was
    asked for when the prompt names it. `loop_checked`: the engine's loop detector already watched
    this answer stream by and let it through, so only the whole-answer phrase check runs."""
    if not answer.strip():
        return QualityScore(0.0, (Signal("empty", MAX_SCORE, "the answer is empty"),))
    wants_json = bool(_JSON_WORD.search(prompt)) if json_requested is None else json_requested
    found = [
        _repeated_phrase(answer) if loop_checked else _looping(answer),
        _echo(prompt, answer),
        _refusal(answer),
        _bad_json(answer) if wants_json else None,
        _leaked_tokens(answer),
        _language(prompt, answer),
        Signal("cut_short", WEIGHTS["cut_short"], "stopped at the length limit")
        if finish_reason == "length"
        else None,
        _open_fence(answer),
    ]
    signals = tuple(s for s in found if s is not None)
    return QualityScore(max(0.0, MAX_SCORE - sum(s.penalty for s in signals)), signals)


def _looping(answer: str) -> Signal | None:
    detector = DegenerateDetector(DegenerateSettings())
    step = 8  # feed in small pieces so every check runs as it does on a live stream
    for start in range(0, len(answer), step):
        if detector.feed(answer[start : start + step]):
            return Signal("looping", WEIGHTS["looping"], detector.describe())
    return _repeated_phrase(answer)


def _repeated_phrase(answer: str) -> Signal | None:
    """A whole answer can be judged on less text than a live stream: a short loop the stream's
    thresholds (240 characters) never reached — "la femme au roi, la femme au roi, …" — still makes
    one 4-word phrase a large share of all its words."""
    words = [w.lower() for w in _TOKEN.findall(answer)]
    if len(words) < _PHRASE_MIN_WORDS:
        return None
    grams = Counter(tuple(words[i : i + 4]) for i in range(len(words) - 3))
    phrase, count = grams.most_common(1)[0]
    if count < _PHRASE_MIN_REPEATS or count * 4 < _PHRASE_SHARE * len(words):
        return None
    return Signal("looping", WEIGHTS["looping"], f"the phrase {' '.join(phrase)!r} comes {count} times")


def _echo(prompt: str, answer: str) -> Signal | None:
    """The answer opens with the question and adds less than the question itself, or asks it again
    (small and base models echo the prompt: "Что такое фотосинтез? …" → the same line back)."""
    asked = " ".join(w.lower() for w in _WORD.findall(prompt))
    said = " ".join(w.lower() for w in _WORD.findall(answer))
    if len(asked) < _ECHO_MIN_CHARS or not said.startswith(asked):
        return None
    rest = said[len(asked) :].strip()
    if len(rest) >= len(asked) and asked[: len(asked) // 2] not in rest:
        return None  # the question restated, then a real answer
    return Signal("echo", WEIGHTS["echo"], "the answer only repeats the question")


def _refusal(answer: str) -> Signal | None:
    found = _REFUSAL.search(answer[:_REFUSAL_HEAD_CHARS].replace("’", "'"))
    return (
        Signal("refusal", WEIGHTS["refusal"], f"opens with a refusal: {found.group(0)!r}") if found else None
    )


def _leaked_tokens(answer: str) -> Signal | None:
    leaked = _LEAKED.findall(answer)
    if not leaked:
        return None
    first = _LEAKED.search(answer)
    shown = first.group(0) if first else ""
    return Signal(
        "leaked_tokens", WEIGHTS["leaked_tokens"], f"template tokens in the text ({shown} ×{len(leaked)})"
    )


def _open_fence(answer: str) -> Signal | None:
    fences = len(_FENCE.findall(answer))
    return Signal("open_fence", WEIGHTS["open_fence"], "a code fence is never closed") if fences % 2 else None


def _bad_json(answer: str) -> Signal | None:
    text = answer.strip()
    candidates = [m.group(1) for m in _FENCED_JSON.finditer(text)] + [text]
    for opener, closer in (("{", "}"), ("[", "]")):
        start, end = text.find(opener), text.rfind(closer)
        if 0 <= start < end:
            candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            json.loads(candidate)
        except ValueError:
            continue
        return None
    return Signal("bad_json", WEIGHTS["bad_json"], "JSON was asked for; none could be read from the answer")


def _language(prompt: str, answer: str) -> Signal | None:
    asked = _language_of(prompt)
    if asked is None:
        return None
    said = _script_of(answer)
    if said is None:
        return None
    if said != "Latin" or asked not in _COMMON_WORDS:
        if said != (asked if asked not in _COMMON_WORDS else "Latin"):
            return Signal(
                "language", WEIGHTS["language"], f"asked in {_named(asked)}, answered in {_named(said)}"
            )
        return None
    hits = _common_hits(answer)
    best = max(hits.values())
    if best < _MIN_COMMON_HITS or hits[asked] * 4 > best:
        return None  # it uses the asked language's common words, or says too little to tell
    others = sorted(lang for lang, n in hits.items() if n == best)
    return Signal("language", WEIGHTS["language"], f"asked in {asked}, answered in {' or '.join(others)}")


def _named(language: str) -> str:
    return language if language in _COMMON_WORDS else f"{language} script"


def _script_of(text: str) -> str | None:
    """The script most of the text's letters are in ("Latin", "Cyrillic", "Han", ...); None when
    the text is too short or too mixed to say."""
    scripts: Counter[str] = Counter(_script(unicodedata.name(c, "")) for c in text if c.isalpha())
    total = sum(scripts.values())
    if total < _MIN_LETTERS:
        return None
    script, count = scripts.most_common(1)[0]
    return script if count >= 0.6 * total else None


def _common_hits(text: str) -> dict[str, int]:
    words = Counter(w.lower() for w in _WORD.findall(text))
    return {lang: sum(words[w] for w in common) for lang, common in _COMMON_WORDS.items()}


def _language_of(text: str) -> str | None:
    """The text's language ("en", "fr", ...) by its common words when in Latin script, else its
    script ("Cyrillic", "Han", ...); None when it is too short or too mixed to say."""
    script = _script_of(text)
    if script != "Latin":
        return script
    ranked = sorted(_common_hits(text).items(), key=lambda kv: kv[1], reverse=True)
    (best, best_hits), (_, second_hits) = ranked[0], ranked[1]
    if best_hits < _MIN_COMMON_HITS or best_hits < 2 * second_hits:
        return None
    return best


def _script(unicode_name: str) -> str:
    head = unicode_name.split(" ", 1)[0]
    if head == "CJK":
        return "Han"
    if head in ("HIRAGANA", "KATAKANA"):
        return "Kana"
    return head.capitalize() if head else "Other"
