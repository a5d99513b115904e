"""The data and plain-text rendering behind `steward doctor`: hardware, tier, servers, recommendations.

`doctor_report` builds a JSON-ready dict (the `--json` output); `render_doctor_text`
turns that same dict into the terminal report, so both always agree. The "servers"
slot is filled by the caller with discovered servers, each shaped as
{"name", "url", "health", "models": [{"name", "fit", "health", "context"?}]} (extra keys ignored).
Each recommendation also says the largest context it fits with here and where its memory goes
(weights, KV cache, compute buffers, runtime).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from steward.hardware.context_fit import breakdown_text, context_words, fits_with_text
from steward.hardware.detect import HardwareInfo
from steward.hardware.gpu import GpuInfo, format_bytes
from steward.hardware.recommend import Recommendation, TaskType
from steward.hardware.tiers import classify


def _gpu_dict(g: GpuInfo) -> dict[str, Any]:
    return {
        "vendor": str(g.vendor),
        "name": g.name,
        "index": g.index,
        "integrated": g.integrated,
        "memory_total": g.memory_total,
        "memory_used": g.memory_used,
        "utilization_percent": g.utilization_percent,
        "temperature_c": g.temperature_c,
        "driver_version": g.driver_version,
        "cuda_version": g.cuda_version,
        "source": g.source,
    }


def _recommendation_dict(r: Recommendation) -> dict[str, Any]:
    return {
        "model": r.model.id,
        "name": r.model.name,
        "quant": r.quant,
        "fit": str(r.fit.label),
        "fit_text": r.fit.description,
        "context": r.fit.context,
        "memory_bytes": r.fit.memory.total,
        "memory": {
            "weights": r.fit.memory.weights,
            "kv_cache": r.fit.memory.kv_cache,
            "checkpoints": r.fit.memory.checkpoints,
            "compute": r.fit.memory.compute,
            "runtime": r.fit.memory.runtime,
        },
        "memory_text": breakdown_text(r.fit.memory),
        "max_context": r.max_context,
        "max_context_text": fits_with_text(r.max_context, r.model.trained_context),
        "tokens_per_second": round(r.fit.tokens_per_second, 1) if r.fit.tokens_per_second else None,
        "ollama": r.model.ollama[0] if r.model.ollama else None,
        "installed": r.installed,
        "installed_as": r.installed_as,
        "score": round(r.score, 3),
        "reason": r.reason,
    }


def doctor_report(
    hardware: HardwareInfo, recommendations: Mapping[TaskType, Sequence[Recommendation]]
) -> dict[str, Any]:
    """A JSON-serialisable report of the machine, its tier and the top models per task."""
    verdict = classify(hardware)
    mem = hardware.memory
    return {
        "hardware": {
            "platform": {"system": hardware.platform.system, "machine": hardware.platform.machine},
            "cpu": {
                "model": hardware.cpu.model,
                "physical_cores": hardware.cpu.physical_cores,
                "logical_cores": hardware.cpu.logical_cores,
                "simd": list(hardware.cpu.simd),
            },
            "memory": {
                "ram_total": mem.ram_total,
                "ram_available": mem.ram_available,
                "swap_total": mem.swap_total,
                "swap_used": mem.swap_used,
            },
            "gpus": [_gpu_dict(g) for g in hardware.gpus],
            "notes": list(hardware.notes),
        },
        "tier": {"name": str(verdict.tier), "explanation": verdict.explanation},
        "servers": [],
        "recommendations": {
            str(task): [_recommendation_dict(r) for r in recs] for task, recs in recommendations.items()
        },
    }


def _or_unknown(value: object) -> str:
    return "unknown" if value is None else str(value)


def _hardware_lines(hw: Mapping[str, Any]) -> list[str]:
    cpu, mem = hw["cpu"], hw["memory"]
    lines = [
        "Hardware",
        f"  Platform : {hw['platform']['system']} {hw['platform']['machine']}",
        f"  CPU      : {cpu['model']} ({_or_unknown(cpu['physical_cores'])} cores / "
        f"{_or_unknown(cpu['logical_cores'])} threads; SIMD: {', '.join(cpu['simd']) or 'none detected'})",
        f"  RAM      : {format_bytes(mem['ram_total'])} total, "
        f"{format_bytes(mem['ram_available'])} available; swap {format_bytes(mem['swap_total'])}",
    ]
    if not hw["gpus"]:
        lines.append("  GPU      : none")
    for g in hw["gpus"]:
        extra = "shares system RAM" if g["integrated"] else f"{format_bytes(g['memory_total'])} VRAM"
        if g["memory_used"] is not None and not g["integrated"]:
            extra += f", {format_bytes(g['memory_used'])} used"
        if g["driver_version"]:
            extra += f", driver {g['driver_version']}"
        if g["cuda_version"]:
            extra += f", CUDA {g['cuda_version']}"
        lines.append(f"  GPU {g['index']}    : {g['name']} ({extra})")
    lines += [f"  note     : {n}" for n in hw["notes"]]
    return lines


def _server_lines(servers: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = ["Servers"]
    if not servers:
        return [*lines, "  none discovered"]
    for s in servers:
        lines.append(f"  {s.get('name', '?')}  {s.get('url', '')}  [{s.get('health', 'unknown')}]")
        for m in s.get("models", []):
            context = f", {m['context']}" if m.get("context") else ""
            lines.append(
                f"    - {m.get('name', '?')}: {m.get('fit', 'fit unknown')}{context} [{m.get('health', 'unknown')}]"
            )
    return lines


def render_doctor_text(report: Mapping[str, Any]) -> str:
    """The terminal report for `steward doctor` (plain text, no colours)."""
    tier = report["tier"]
    lines = _hardware_lines(report["hardware"])
    lines += ["", f"Tier: {tier['name'].upper()} - {tier['explanation']}", ""]
    lines += _server_lines(report.get("servers") or [])
    lines += ["", "Recommended models"]
    for task, recs in report["recommendations"].items():
        lines.append(f"  {task}:")
        if not recs:
            lines.append("    (nothing in the catalog fits this machine)")
        for i, r in enumerate(recs, 1):
            mark = f" [installed as {r['installed_as']}]" if r["installed"] else ""
            tag = f" (ollama: {r['ollama']})" if r["ollama"] else ""
            lines.append(f"    {i}. {r['name']}{tag}{mark}")
            lines.append(f"       {r['reason']}")
            lines.append(
                f"       {r['max_context_text']}; at {context_words(r['context'])}: {r['memory_text']}"
            )
    return "\n".join(lines) + "\n"
