"""The quality score on answers the REAL models give right now (the unit tests use answers
recorded from the same models; these make sure the pinned build still behaves that way)."""

from __future__ import annotations

import httpx
from tests.support.llama import LlamaServer

from steward.engine.quality import score_answer


def ask(server: LlamaServer, prompt: str, max_tokens: int) -> tuple[str, str]:
    body = {"messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens, "temperature": 0}
    choice = httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=60).json()["choices"][0]
    return choice["message"]["content"], choice["finish_reason"]


def test_gemma_base_model_chat_answer_scores_low_for_the_reasons_it_is_bad(llama_gemma: LlamaServer) -> None:
    prompt = "What is the capital of France?"
    score = score_answer(prompt, *ask(llama_gemma, prompt, 120))
    assert {"looping", "leaked_tokens"} <= {s.name for s in score.signals}
    assert score.score <= 2


def test_smollm2_code_cut_at_the_limit_is_open_fence_and_cut_short(llama_small: LlamaServer) -> None:
    prompt = "Write a Python function that adds two numbers."
    answer, finish = ask(llama_small, prompt, 12)
    score = score_answer(prompt, answer, finish)
    assert finish == "length" and answer.lstrip().startswith("```")
    assert {s.name for s in score.signals} == {"open_fence", "cut_short"}
