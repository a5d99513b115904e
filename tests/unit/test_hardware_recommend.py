"""Recommendations per tier and task, the budget they use, and the `steward doctor` report data."""

from __future__ import annotations

import json

from steward.hardware.budget import budget_for
from steward.hardware.catalog import load_catalog
from steward.hardware.cpu import CpuInfo, MemoryInfo
from steward.hardware.detect import HardwareInfo, PlatformInfo
from steward.hardware.doctor import doctor_report, render_doctor_text
from steward.hardware.fit import FitLabel
from steward.hardware.gpu import GIB, GpuInfo, GpuVendor
from steward.hardware.recommend import TaskType, recommend, recommend_all
from steward.hardware.tiers import Tier, classify

CPU = CpuInfo(model="Test CPU", physical_cores=8, logical_cores=16, simd=("AVX2",))


def machine(ram_gib: int, gpus: tuple[GpuInfo, ...] = (), system: str = "Linux") -> HardwareInfo:
    memory = MemoryInfo(ram_total=ram_gib * GIB, ram_available=ram_gib * GIB // 2, swap_total=0, swap_used=0)
    return HardwareInfo(PlatformInfo(system, "x86_64"), CPU, memory, gpus)


def nvidia(vram_gib: int, index: int = 0) -> GpuInfo:
    return GpuInfo(
        GpuVendor.NVIDIA, f"GPU {vram_gib}G", index=index, memory_total=vram_gib * GIB, memory_used=0
    )


def test_12_gib_gpu_coding_picks_full_offload_models_with_a_reason() -> None:
    hw = machine(32, (nvidia(12),))
    verdict = classify(hw)
    assert verdict.tier is Tier.MID_VRAM
    recs = recommend(load_catalog(), budget_for(hw, verdict), TaskType.CODING, context=8192)
    assert len(recs) == 5
    assert [r.score for r in recs] == sorted((r.score for r in recs), reverse=True)
    top = recs[0]
    assert top.fit.label is FitLabel.FULL_GPU
    assert "code" in top.model.capabilities
    assert "fits fully on your 12.0 GiB GPU at 8k context" in top.reason and "tok/s class" in top.reason


def test_cpu_only_machine_only_gets_models_that_fit_in_ram() -> None:
    hw = machine(8)
    budget = budget_for(hw, classify(hw))
    assert budget.gpu_bytes == 0 and budget.ram_bytes == 6 * GIB
    for task in TaskType:
        recs = recommend(load_catalog(), budget, task, limit=50)
        assert recs, task
        assert all(r.fit.label is FitLabel.CPU_ONLY and r.fit.memory.total <= budget.ram_bytes for r in recs)
        assert all("runs on the CPU" in r.reason for r in recs)


def test_bigger_tiers_get_bigger_models() -> None:
    catalog = load_catalog()
    small = machine(16, (nvidia(6),))
    big = machine(128, (nvidia(24), nvidia(24, 1)))
    assert classify(big).tier is Tier.WORKSTATION
    top_small = recommend(catalog, budget_for(small, classify(small)), TaskType.ANALYSIS)[0]
    top_big = recommend(catalog, budget_for(big, classify(big)), TaskType.ANALYSIS)[0]
    assert top_big.model.parameters > top_small.model.parameters
    assert "2 GPUs (48.0 GiB)" in top_big.reason


def test_task_type_changes_the_ranking() -> None:
    hw = machine(32, (nvidia(12),))
    recs = recommend_all(load_catalog(), budget_for(hw, classify(hw)), limit=3)
    assert set(recs) == set(TaskType)
    assert all("code" in r.model.capabilities for r in recs[TaskType.CODING])
    assert all("reasoning" in r.model.capabilities for r in recs[TaskType.PLANNING])


def test_installed_flag_comes_from_the_installed_names() -> None:
    hw = machine(32, (nvidia(12),))
    budget = budget_for(hw, classify(hw))
    recs = recommend(load_catalog(), budget, TaskType.CODING, limit=50, installed=["qwen2.5-coder:7b"])
    flagged = {r.model.id: r.installed_as for r in recs if r.installed}
    assert flagged == {"qwen2.5-coder-7b": "qwen2.5-coder:7b"}


def test_apple_unified_memory_budget_uses_part_of_ram_for_the_gpu() -> None:
    hw = HardwareInfo(
        PlatformInfo("Darwin", "arm64"),
        CPU,
        MemoryInfo(16 * GIB, 10 * GIB, 0, 0),
        (GpuInfo(GpuVendor.APPLE, "Apple", integrated=True, memory_total=16 * GIB),),
    )
    budget = budget_for(hw, classify(hw))
    assert budget.unified and budget.gpu_bytes == int(16 * GIB * 0.7)
    top = recommend(load_catalog(), budget, TaskType.GENERAL)[0]
    assert top.fit.label is FitLabel.FULL_GPU and "unified memory" in top.reason


def test_doctor_report_is_json_and_renders_hardware_tier_servers_and_recommendations() -> None:
    hw = machine(16)
    recs = recommend_all(load_catalog(), budget_for(hw, classify(hw)), installed=["smollm2:135m"])
    report = doctor_report(hw, recs)
    assert json.loads(json.dumps(report)) == report
    assert report["tier"]["name"] == "cpu_only" and report["servers"] == []
    text = render_doctor_text(report)
    assert "Tier: CPU_ONLY - no usable GPU" in text
    assert "Servers\n  none discovered" in text
    first = report["recommendations"]["coding"][0]
    assert f"1. {first['name']}" in text and first["reason"] in text
    report["servers"] = [
        {
            "name": "ollama",
            "url": "http://127.0.0.1:11434",
            "health": "healthy",
            "models": [{"name": "qwen3:4b", "fit": "CPU only (slow)", "health": "healthy"}],
        }
    ]
    text = render_doctor_text(report)
    assert "ollama  http://127.0.0.1:11434  [healthy]" in text
    assert "- qwen3:4b: CPU only (slow) [healthy]" in text
