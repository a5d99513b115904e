"""`steward doctor` says, for every model it lists, the largest context it fits with on this
machine and where the memory goes — for recommendations and for the models a REAL llama-server
serves."""

from __future__ import annotations

import asyncio
import json

from tests.support.llama import LlamaServer

from steward.doctor_cli import server_rows
from steward.hardware.budget import budget_for
from steward.hardware.catalog import load_catalog
from steward.hardware.cpu import CpuInfo, MemoryInfo
from steward.hardware.detect import HardwareInfo, PlatformInfo
from steward.hardware.doctor import doctor_report, render_doctor_text
from steward.hardware.gpu import GIB
from steward.hardware.recommend import recommend_all
from steward.hardware.tiers import classify
from steward.servers.discovery import discover

CPU = CpuInfo(model="Test CPU", physical_cores=4, logical_cores=8, simd=("AVX2",))


def machine(ram_gib: int) -> HardwareInfo:
    memory = MemoryInfo(ram_total=ram_gib * GIB, ram_available=ram_gib * GIB // 2, swap_total=0, swap_used=0)
    return HardwareInfo(PlatformInfo("Linux", "x86_64"), CPU, memory, ())


def test_recommendations_say_the_largest_context_and_the_memory_breakdown() -> None:
    hw = machine(8)
    budget = budget_for(hw, classify(hw))
    report = doctor_report(hw, recommend_all(load_catalog(), budget))
    assert json.loads(json.dumps(report)) == report
    first = report["recommendations"]["coding"][0]
    memory = first["memory"]
    assert sum(memory.values()) == first["memory_bytes"]
    assert first["max_context"] >= first["context"] and first["max_context"] % 256 == 0
    assert first["max_context_text"].startswith("fits with ") and "k context" in first["max_context_text"]
    text = render_doctor_text(report)
    line = f"       {first['max_context_text']}; at 8k: weights "
    assert line in text
    assert "KV cache" in text and "compute buffers" in text and "runtime" in text


def test_a_real_llama_server_model_is_listed_with_the_context_it_fits_with(llama_small: LlamaServer) -> None:
    found = asyncio.run(discover([llama_small.port], timeout_s=5))
    assert found and found[0].models, "the real llama-server is discovered with its model"
    hw = machine(8)
    rows = server_rows(found, load_catalog(), budget_for(hw, classify(hw)))
    model = rows[0]["models"][0]  # type: ignore[index]
    assert model["context"] == "fits with 8k context (its maximum)"  # SmolLM2-135M is trained for 8k
    report = doctor_report(hw, {})
    report["servers"] = rows
    assert f"{model['name']}: cpu_only, fits with 8k context (its maximum) [up]" in render_doctor_text(report)
