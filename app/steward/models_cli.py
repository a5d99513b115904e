"""`steward models --disk`: every GGUF file on this disk with its metadata and what fits, headless
(the Models page's "On this disk" table as text or `--json`)."""

from __future__ import annotations

import asyncio
import dataclasses
import json

from steward.config import SettingsFile
from steward.hardware.context_fit import context_words
from steward.hardware.disk_models import DiskModel, DiskScan, params_text
from steward.hardware.gpu import format_bytes
from steward.service.disk_models import scan_this_machine


def model_json(model: DiskModel) -> dict[str, object]:
    data = dataclasses.asdict(model)
    data["fit"] = model.fit_text
    return data


def render_text(scan: DiskScan) -> str:
    header = ("Name", "Found in", "Arch", "Params", "Quant", "Trained", "Size", "Fit")
    rows = [
        (
            m.name,
            m.source,
            m.architecture or "—",
            params_text(m.parameters),
            m.quant or "—",
            context_words(m.trained_context) if m.trained_context else "—",
            format_bytes(m.size_bytes),
            m.fit_text if m.error is None else f"unreadable: {m.error}",
        )
        for m in scan.models
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1]
        for row in [header, *rows]
    ]
    searched = [r for r in scan.roots if r.present]
    lines.append(
        f"{len(scan.models)} model(s) in {len(searched)} folder(s); {scan.read} file(s) read, {scan.cached} from the cache"
    )
    lines += [f"note: {n}" for r in scan.roots for n in r.notes] + [f"note: {n}" for n in scan.notes]
    return "\n".join(lines)


async def run_models(as_json: bool) -> int:
    settings = (await asyncio.to_thread(SettingsFile.default().check)).settings  # read-only
    scan = await asyncio.to_thread(scan_this_machine, list(settings.discovery.model_folders))
    if as_json:
        roots = [
            {"source": str(r.root.source), "path": str(r.root.path), "present": r.present, "notes": r.notes}
            for r in scan.roots
        ]
        print(json.dumps({"models": [model_json(m) for m in scan.models], "roots": roots}, indent=2))
    else:
        print(render_text(scan))
    return 0
