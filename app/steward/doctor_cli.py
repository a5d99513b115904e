"""`steward doctor`: hardware, tier, discovered servers and models with fit labels and health,
and the top recommendations — as text or `--json`."""

from __future__ import annotations

import asyncio
import json

from steward.hardware.budget import budget_for
from steward.hardware.catalog import load_catalog
from steward.hardware.detect import detect_hardware
from steward.hardware.doctor import doctor_report, render_doctor_text
from steward.hardware.recommend import recommend_all
from steward.hardware.tiers import classify


async def run_doctor(as_json: bool) -> int:
    hardware = await asyncio.to_thread(detect_hardware)
    verdict = classify(hardware)
    budget = budget_for(hardware, verdict)
    catalog = await asyncio.to_thread(load_catalog)
    servers = await _servers()
    installed = [m["name"] for s in servers for m in s.get("models", [])]
    recommendations = recommend_all(catalog, budget, installed=installed)
    report = doctor_report(hardware, recommendations)
    report["servers"] = servers
    print(json.dumps(report, indent=2, default=str) if as_json else render_doctor_text(report))
    return 0


async def _servers() -> list[dict[str, object]]:
    """Discovered servers (filled in by steward.servers discovery when available)."""
    try:
        from steward.servers.discovery import discover_for_doctor
    except ImportError:
        return []
    return await discover_for_doctor()
