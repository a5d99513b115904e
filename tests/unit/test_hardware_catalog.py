"""The shipped model catalog: schema, no duplicates, plausible sizes, loose installed-name matching."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from steward.hardware.catalog import load_catalog, load_catalog_document, match_installed, validate_catalog
from steward.hardware.spec import BYTES_PER_WEIGHT


@pytest.fixture
def doc() -> dict[str, Any]:
    return load_catalog_document()


def test_shipped_catalog_is_valid_and_has_about_thirty_models_or_more(doc: dict[str, Any]) -> None:
    assert validate_catalog(doc) == []
    catalog = load_catalog()
    assert len(catalog) >= 30
    families = {m.family for m in catalog}
    for family in (
        "llama3.1",
        "qwen2.5",
        "qwen2.5-coder",
        "qwen3",
        "mistral",
        "mixtral",
        "gemma2",
        "gemma3",
        "phi4",
        "deepseek-r1",
        "smollm2",
        "tinyllama",
        "granite3.1-dense",
        "codestral",
        "starcoder2",
    ):
        assert family in families


def test_ids_and_ollama_tags_are_unique(doc: dict[str, Any]) -> None:
    ids = [m["id"] for m in doc["models"]]
    tags = [t for m in doc["models"] for t in m["ollama"]]
    assert len(ids) == len(set(ids))
    assert len(tags) == len(set(tags))


def test_every_quant_size_is_a_plausible_bytes_per_weight(doc: dict[str, Any]) -> None:
    for m in doc["models"]:
        for quant, size in m["quants"].items():
            bpw = size / m["parameters"]
            assert 0.6 * BYTES_PER_WEIGHT[quant] <= bpw <= 1.6 * BYTES_PER_WEIGHT[quant], (
                m["id"],
                quant,
                bpw,
            )


def test_every_capability_is_backed_by_the_numbers(doc: dict[str, Any]) -> None:
    for m in doc["models"]:
        arch = m["architecture"]
        assert arch["heads"] % arch["kv_heads"] == 0, m["id"]
        if "long_context" in m["capabilities"]:
            assert m["trained_context"] >= 32768, m["id"]


def test_validation_reports_duplicates_bad_sizes_and_unknown_capabilities(doc: dict[str, Any]) -> None:
    bad = copy.deepcopy(doc)
    bad["models"].append(copy.deepcopy(bad["models"][0]))
    bad["models"][1]["quants"]["Q4_K_M"] = 10  # ten bytes for a billion-parameter model
    bad["models"][2]["capabilities"].append("telepathy")
    del bad["models"][3]["architecture"]["kv_heads"]
    problems = validate_catalog(bad)
    first = doc["models"][0]["id"]
    assert f"duplicate id {first}" in problems
    assert any(doc["models"][1]["id"] in p and "implausible" in p for p in problems)
    assert any("telepathy" in p for p in problems)
    assert any("architecture.kv_heads missing" in p for p in problems)


def test_installed_names_match_tags_and_gguf_files_loosely() -> None:
    catalog = load_catalog()
    found = match_installed(
        catalog,
        [
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            "qwen2.5-coder:7b-instruct-q4_K_M",
            "registry.ollama.ai/library/llama3.2:latest",
            "/models/Phi-4-mini-instruct-Q4_K_M.gguf",
            "phi-4-Q4_K_M.gguf",
            "totally-unknown:1b",
        ],
    )
    assert found == {
        "smollm2-135m": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "qwen2.5-coder-7b": "qwen2.5-coder:7b-instruct-q4_K_M",
        "llama3.2-3b": "registry.ollama.ai/library/llama3.2:latest",
        "phi4-mini-3.8b": "/models/Phi-4-mini-instruct-Q4_K_M.gguf",
        "phi4-14b": "phi-4-Q4_K_M.gguf",
    }


def test_catalog_spec_uses_the_listed_file_size() -> None:
    model = next(m for m in load_catalog() if m.id == "llama3.1-8b")
    spec = model.spec()
    assert spec.quantization == "Q4_K_M" and spec.weight_bytes == model.quants["Q4_K_M"]
    assert spec.kv_bytes_per_token() == 2 * 32 * 8 * 128 * 2
