"""`steward serve`: the engine, server supervision and the gateway, headless, until SIGINT/SIGTERM.

The same runtime as the app (embedded servers as the settings say, discovery, health monitor, the
history database), with the gateway on the runtime's own loop. On SIGINT/SIGTERM the gateway stops
first (no new requests), then every server Steward started. The settings file is only read.

The gateway runs here even when `gateway.enabled` is off: that switch is the app's; asking for
`steward serve` is asking for the gateway.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import TextIO

from steward.gateway import Gateway
from steward.runtime import RuntimeOptions
from steward.service import StewardService

THIS_RUN_ONLY = "this run only"


async def run_serve(*, host: str | None, port: int | None, out: TextIO = sys.stdout) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        service = await StewardService.start(RuntimeOptions(recover_settings=False))
        service.watch_settings_file()
        try:
            return await _serve(service, host, port, stop, out)
        finally:
            await service.stop()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl+C during shutdown ends it hard
            loop.remove_signal_handler(sig)


async def _serve(
    service: StewardService, host: str | None, port: int | None, stop: asyncio.Event, out: TextIO
) -> int:
    for warning in service.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for notice in service.notices:
        print(f"note: {notice}", file=sys.stderr)
    gateway = Gateway(service, host=host, port=port)
    try:
        await gateway.start()
    except OSError as exc:
        print(f"steward serve: cannot listen on {gateway.url}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        await _announce(service, gateway, out)
        await stop.wait()
        print("stopping: the gateway, then every server Steward started", file=out, flush=True)
    finally:
        await gateway.stop()
    return 0


async def _announce(service: StewardService, gateway: Gateway, out: TextIO) -> None:
    """Where to connect and where the token lives; the token itself only when it lives nowhere
    else (this run only) — printed here once, never logged."""
    url = gateway.url
    lines = [
        f"Steward gateway listening on {url}",
        f"  OpenAI-compatible: {url}/v1    Ollama-compatible: {url}    metrics: {url}/metrics",
    ]
    if not service.settings.gateway.require_token:
        lines.append("  token: none required (gateway.require_token is off)")
    else:
        token = await service.gateway_token.get()
        if token.where.startswith(THIS_RUN_ONLY):
            lines.append(f"  token: {token.value}")
            lines.append("    (no OS keyring: made for this run only; set STEWARD_GATEWAY_TOKEN to keep one)")
        elif token.where == "environment":
            lines.append("  token: the value of STEWARD_GATEWAY_TOKEN")
        else:
            lines.append("  token: in the OS keyring (the app's Gateway page shows and copies it)")
    models = [m.key for m in service.snapshot().models]
    lines.append(f"  models: {', '.join(models) if models else 'none yet (servers may still be starting)'}")
    lines.append("Ctrl+C (or SIGTERM) stops the gateway and every server Steward started.")
    print("\n".join(lines), file=out, flush=True)
