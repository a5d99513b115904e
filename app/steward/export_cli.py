"""`steward export events|samples|litellm-config PATH`: `-` as PATH means standard output."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import TextIO

import yaml

from steward.runtime import RuntimeOptions
from steward.service import StewardService
from steward.service.litellm_export import HEADER


def _out(path: str) -> tuple[TextIO, bool]:
    """The stream to write to and whether it must be closed (a file) or not (stdout)."""
    if path == "-":
        return sys.stdout, False
    return Path(path).open("w", encoding="utf-8", newline=""), True


def run_export(what: str, path: str, fmt: str) -> int:
    if what == "litellm-config":
        return asyncio.run(_litellm(path))
    from steward.store import export_events, export_samples, open_store

    store, warnings = open_store()
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    stream, close = _out(path)
    try:
        count = (export_events if what == "events" else export_samples)(store, stream, fmt)  # type: ignore[arg-type]
    finally:
        if close:
            stream.close()
        store.close()
    summary = json.dumps({"exported": count, "what": what, "path": path, "format": fmt})
    print(summary, file=sys.stderr if path == "-" else sys.stdout)
    return 0


async def _litellm(path: str) -> int:
    """Ask the servers that answer now for their models (no embedded servers are started)."""
    options = RuntimeOptions(embedded=False, store=False, health_monitor=False, recover_settings=False)
    service = await StewardService.start(options)
    try:
        for warning in service.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        config = service.litellm_config()
    finally:
        await service.stop()
    text = HEADER + yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    stream, close = _out(path)
    try:
        stream.write(text)
    finally:
        if close:
            stream.close()
    models = len(config["model_list"])  # type: ignore[arg-type]
    summary = json.dumps({"exported": models, "what": "litellm-config", "path": path})
    print(summary, file=sys.stderr if path == "-" else sys.stdout)
    return 0
