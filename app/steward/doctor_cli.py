"""`steward doctor`: hardware, tier, discovered servers and models with fit labels and health,
and the top recommendations — as text or `--json`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from steward.config import SettingsFile
from steward.hardware.budget import budget_for
from steward.hardware.catalog import CatalogModel, load_catalog, match_installed
from steward.hardware.context_fit import fits_with_text, max_fitting_context
from steward.hardware.detect import detect_hardware
from steward.hardware.doctor import doctor_report, render_doctor_text
from steward.hardware.fit import MemoryBudget, estimate_fit
from steward.hardware.recommend import recommend_all
from steward.hardware.tiers import classify
from steward.servers.discovery import DiscoveredServer, discover


async def run_doctor(as_json: bool) -> int:
    settings = (await asyncio.to_thread(SettingsFile.default().check)).settings  # read-only
    hardware_task = asyncio.to_thread(detect_hardware)
    servers_task = discover(settings.discovery.ports, timeout_s=settings.discovery.timeout_s)
    hardware, discovered = await asyncio.gather(hardware_task, servers_task)
    verdict = classify(hardware)
    budget = budget_for(hardware, verdict)
    catalog = await asyncio.to_thread(load_catalog)
    installed = [m for s in discovered for m in s.models]
    recommendations = recommend_all(catalog, budget, installed=installed)
    report = doctor_report(hardware, recommendations)
    report["servers"] = server_rows(discovered, catalog, budget)
    print(json.dumps(report, indent=2, default=str) if as_json else render_doctor_text(report))
    return 0


def server_rows(
    discovered: Sequence[DiscoveredServer], catalog: Sequence[CatalogModel], budget: MemoryBudget
) -> list[dict[str, object]]:
    """One row per discovered server with its models' fit labels (where the catalog knows them)."""
    rows: list[dict[str, object]] = []
    by_id = {m.id: m for m in catalog}
    for server in discovered:
        matches = {name: mid for mid, name in match_installed(catalog, server.models).items()}
        models = []
        for name in server.models:
            entry = by_id.get(matches.get(name, ""))
            fit = estimate_fit(entry.spec(), 8192, budget).label.value if entry else "unknown model"
            context = (
                fits_with_text(max_fitting_context(entry.spec(), budget), entry.trained_context)
                if entry
                else None
            )
            health = "loading" if server.loading else "up"
            models.append({"name": name, "fit": fit, "context": context, "health": health})
        rows.append(
            {
                "name": f"{server.kind}-{server.port}",
                "url": server.base_url,
                "health": "loading" if server.loading else "up",
                "models": models,
            }
        )
    return rows
