"""`steward chat`: one prompt through the runtime's engine, streamed to the terminal, followed
by the attempt chain (model, outcome, failure kind, time) — the same path as the chat page."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import BinaryIO, TextIO

from steward.engine.chain_text import chain_line
from steward.engine.events import Completed, PartialAbandoned, RequestStarted, Token
from steward.runtime import RuntimeOptions
from steward.service import StewardService

MAX_PROMPT_BYTES = 16 * 1024 * 1024


class PromptError(ValueError):
    """The prompt could not be read (no prompt, two sources, unreadable or huge file)."""


def read_prompt(arg: str | None, file: Path | None, stdin: BinaryIO) -> str:
    """The question from the argument, `-` (standard input) or `--file`.

    Bytes that are not UTF-8 become U+FFFD here; the engine repairs an argument's invalid bytes
    the same way (and says so). An empty prompt is refused by the engine, before any model.
    """
    if file is not None and arg is not None:
        raise PromptError(
            "give the question as an argument, as '-' (standard input) or with --file, not both"
        )
    if file is not None:
        try:
            size = file.stat().st_size
            if size > MAX_PROMPT_BYTES:
                raise PromptError(
                    f"{file}: {size:,} bytes is more than the {MAX_PROMPT_BYTES:,} a prompt may have"
                )
            return file.read_bytes().decode("utf-8", errors="replace")
        except OSError as exc:
            raise PromptError(f"cannot read {file}: {exc.strerror or exc}") from None
    if arg == "-":
        data = stdin.read(MAX_PROMPT_BYTES + 1)
        if len(data) > MAX_PROMPT_BYTES:
            raise PromptError(
                f"standard input holds more than the {MAX_PROMPT_BYTES:,} bytes a prompt may have"
            )
        return data.decode("utf-8", errors="replace")
    if arg is None:
        raise PromptError("no question: give it as an argument, as '-' (standard input) or with --file PATH")
    return arg


async def run_chat(
    prompt: str,
    *,
    model: str | None,
    strategy: str | None,
    max_tokens: int | None,
    as_json: bool,
    embedded: bool,
    out: TextIO = sys.stdout,
) -> int:
    service = await StewardService.start(
        RuntimeOptions(embedded=embedded, health_monitor=False, recover_settings=False)
    )
    try:
        for warning in service.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        for notice in service.notices:  # e.g. a circuit carried over from the last run
            print(f"note: {notice}", file=sys.stderr)
        request = service.build_request(
            [("user", prompt)], model=model, strategy=strategy, max_tokens=max_tokens, source="cli"
        )
        chain: list[str] = []
        ok = False
        async for event in service.ask(request):
            if as_json:
                out.write(
                    json.dumps({"type": event.type, "ts": event.ts, **event.payload()}, default=str) + "\n"
                )
                out.flush()
            elif isinstance(event, Token):
                out.write(event.text)
                out.flush()
            elif isinstance(event, PartialAbandoned):
                out.write("\n[partial answer abandoned; falling back]\n")
            if isinstance(event, RequestStarted):
                for note in event.notes:
                    print(f"warning: {note}", file=sys.stderr)
            line = chain_line(event)
            if line:
                chain.append(line)
            ok = ok or isinstance(event, Completed)
        if not as_json:
            out.write("\n\nattempts:\n" + "\n".join(chain) + "\n")
        return 0 if ok else 1
    finally:
        await service.stop()
