"""The prompts of an A/B comparison: the built-in set, or the user's file (a JSON list of strings
or one prompt per line). Shared by `steward compare --prompts` and the Lab page's "Load…"."""

from __future__ import annotations

import json
from pathlib import Path

from steward.lab.compare import DEFAULT_PROMPTS

MAX_PROMPTS_FILE_BYTES = 1 << 20


class LabInputError(ValueError):
    """A mistake in what the user asked for (exit 2, said plainly)."""


def read_prompts(path: Path | None) -> tuple[str, ...]:
    """The prompts: the built-in set, or a file holding a JSON list of strings or one prompt per
    line (blank lines and lines starting with # skipped)."""
    if path is None:
        return DEFAULT_PROMPTS
    try:
        if path.stat().st_size > MAX_PROMPTS_FILE_BYTES:
            raise LabInputError(f"{path}: larger than 1 MiB; a comparison needs a handful of prompts")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LabInputError(f"cannot read prompts from {path}: {exc}") from None
    if text.lstrip().startswith("["):
        try:
            loaded = json.loads(text)
        except ValueError as exc:
            raise LabInputError(f"{path}: not a JSON list of prompts ({exc})") from None
        if not isinstance(loaded, list) or not all(isinstance(p, str) for p in loaded):
            raise LabInputError(f"{path}: a JSON prompts file must be a list of strings")
        prompts = [p.strip() for p in loaded]
    else:
        prompts = [line.strip() for line in text.splitlines() if not line.lstrip().startswith("#")]
    found = tuple(p for p in prompts if p)
    if not found:
        raise LabInputError(f"{path}: no prompts in it")
    return found
