"""A/B comparison through the service against two REAL, different models: SmolLM2 (A) and the
Gemma 3 270M base model (B), which answers chat prompts with a `<|im_end|>` loop — the comparison
must show it (success rate and quality), run interleaved with fallbacks off, and keep its result."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.support.gemma import GEMMA_FILE
from tests.support.llama import LlamaServer
from tests.support.service import quiet_options

from steward.config import Settings
from steward.lab.compare import Run, Side, run_comparison
from steward.service import StewardService

SMOL = "small/SmolLM2-135M-Instruct.Q4_1"
GEMMA = f"gemma/{GEMMA_FILE.removesuffix('.gguf')}"
PROMPTS = ("What is 2 + 2?", "Give one word that rhymes with cat.")  # SmolLM2 answers both cleanly


@pytest.fixture
async def service(
    tmp_path: Path, llama_small: LlamaServer, llama_gemma: LlamaServer
) -> AsyncIterator[StewardService]:
    settings = Settings.model_validate(
        {
            "endpoints": [
                {"id": "small", "kind": "llamacpp", "base_url": llama_small.url},
                {"id": "gemma", "kind": "llamacpp", "base_url": llama_gemma.url},
            ],
            "routing": {"default_model": SMOL, "fallback_chain": [SMOL, GEMMA]},
            "timeouts": {"first_token_s": 60, "stall_s": 30},
        }
    )
    started = await StewardService.start(quiet_options(settings, tmp_path))
    try:
        yield started
    finally:
        await started.stop()


@pytest.mark.timeout(300)  # Gemma generates ~4 tokens/s when the 2 cores are busy
async def test_smollm2_against_the_gemma_base_model(service: StewardService, tmp_path: Path) -> None:
    seen: list[Run] = []
    result = await run_comparison(
        service,
        Side("A", SMOL, 0.0),
        Side("B", GEMMA, 0.0),
        PROMPTS,
        runs=3,
        max_tokens=32,
        on_progress=lambda done, total, run: seen.append(run),
    )
    assert len(result.runs) == len(seen) == 12
    assert [r.side for r in result.runs[:4]] == ["A", "B", "B", "A"], "interleaved, order alternating"
    a_ok = [r for r in result.runs if r.side == "A" and r.ok]
    b_runs = [r for r in result.runs if r.side == "B"]
    assert len(a_ok) == 6, [r.failure for r in result.runs if r.side == "A" and not r.ok]
    # Gemma either loops until the engine calls it degenerate (a failure: no fallback in a comparison)
    # or is cut at max_tokens with template tokens in its text (a low quality score).
    for run in b_runs:
        assert ((not run.ok and "degenerate" in run.failure.lower()) or "loop" in run.failure.lower()) or (
            run.ok and run.quality is not None and run.quality <= 5
        ), run
    assert result.success is not None and result.success.a_rate == 1.0
    quality = next(m for m in result.metrics if m.metric == "quality")
    assert quality.a.n == 6 and quality.a.median >= 8
    assert result.verdict and result.verdict[0][0].isupper()
    assert any("success" in line for line in result.verdict)
    print("\n".join(result.verdict))
    # Every request was the Lab's own, pinned, and nothing fell back to the other model.
    snapshot = {m.key: m.metrics for m in service.snapshot().models}
    assert snapshot[SMOL].requests >= 6

    saved = json.loads(result.save(tmp_path / "lab").read_text())
    assert saved["a"]["model"] == SMOL and len(saved["runs"]) == 12 and saved["verdict"] == result.verdict
