"""`steward compare A B` as a user runs it: a child process against REAL llama-servers (two
servers of SmolLM2 as two models, or one model at two temperatures), and its clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.support.cli import run_steward
from tests.support.llama import LlamaServer

MODEL = "SmolLM2-135M-Instruct.Q4_1"
SMALL, LARGE = f"small/{MODEL}", f"large/{MODEL}"


def configure(tmp_path: Path, small: LlamaServer, large: LlamaServer) -> None:
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    (config / "settings.toml").write_text(
        f"""
[[endpoints]]
id = "small"
kind = "llamacpp"
base_url = "{small.url}"

[[endpoints]]
id = "large"
kind = "llamacpp"
base_url = "{large.url}"

[discovery]
ports = [9]
"""
    )


@pytest.mark.timeout(300)
def test_compare_prints_a_verdict_and_a_table_and_keeps_the_result(
    tmp_path: Path, llama_small: LlamaServer, llama_large: LlamaServer
) -> None:
    configure(tmp_path, llama_small, llama_large)
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# two prompts\nWhat is 2 + 2?\n\nGive one word that rhymes with cat.\n")
    done = run_steward(
        "compare",
        SMALL,
        LARGE,
        "--prompts",
        str(prompts),
        "--runs",
        "3",
        "--max-tokens",
        "8",
        "--temperature-a",
        "0",
        "--temperature-b",
        "0",
        "--no-embedded",
        dirs=tmp_path,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert (
        f"A: {SMALL} (temperature 0)" in out and "2 prompts × 3 runs each, interleaved, fallbacks off" in out
    )
    assert "measure" in out and "TTFT" in out and "success" in out and "6/6" in out
    assert "[12/12]" in done.stderr  # progress, one line per run
    saved = Path(out.strip().splitlines()[-1].removeprefix("saved to "))
    assert saved.parent == tmp_path / "data" / "lab" and json.loads(saved.read_text())["b"]["model"] == LARGE


@pytest.mark.timeout(300)
def test_compare_json_and_one_model_at_two_temperatures(
    tmp_path: Path, llama_small: LlamaServer, llama_large: LlamaServer
) -> None:
    configure(tmp_path, llama_small, llama_large)
    done = run_steward(
        "compare",
        SMALL,
        SMALL,
        "--runs",
        "1",
        "--max-tokens",
        "4",
        "--temperature-b",
        "1.5",
        "--json",
        "--no-embedded",
        dirs=tmp_path,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["a"]["model"] == result["b"]["model"] == SMALL and result["b"]["temperature"] == 1.5
    assert len(result["runs"]) == 10 and all(r["ok"] for r in result["runs"])  # 5 built-in prompts × 2
    assert result["verdict"][0].startswith("Too few") or result["verdict"][0][0].isupper()


def test_compare_says_what_is_wrong(
    tmp_path: Path, llama_small: LlamaServer, llama_large: LlamaServer
) -> None:
    configure(tmp_path, llama_small, llama_large)
    unknown = run_steward("compare", SMALL, "nope/x", "--no-embedded", dirs=tmp_path, text=True)
    assert unknown.returncode == 2
    assert "unknown model nope/x; known models: " in unknown.stderr and SMALL in unknown.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n\n")
    no_prompts = run_steward("compare", SMALL, LARGE, "--prompts", str(empty), dirs=tmp_path, text=True)
    assert no_prompts.returncode == 2 and "no prompts in it" in no_prompts.stderr
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('["ok", 3]')
    wrong = run_steward("compare", SMALL, LARGE, "--prompts", str(bad_json), dirs=tmp_path, text=True)
    assert wrong.returncode == 2 and "must be a list of strings" in wrong.stderr
