"""Where a Lab result is kept: `<kind>-<YYYYmmdd-HHMMSS>.json` in the Lab's folder, named by when
the run started. Two results started in the same second (a drill from the page and another from
`steward drill`, or a scripted loop of short comparisons) get `-2`, `-3`, … instead of one
overwriting the other: the file is created exclusively, so even two processes racing for the
same name cannot both win it."""

from __future__ import annotations

import os
import time
from pathlib import Path

MAX_SAME_SECOND = 1000


def write_result(folder: Path, kind: str, started_at: float, text: str) -> Path:
    """Write `text` to a new file for a `kind` result started at `started_at`; returns its path.

    Never replaces an existing file. Raises OSError when the folder cannot be written (or, absurdly,
    when a thousand results already share the second)."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started_at))
    for n in range(1, MAX_SAME_SECOND + 1):
        path = folder / (f"{kind}-{stamp}.json" if n == 1 else f"{kind}-{stamp}-{n}.json")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        return path
    raise FileExistsError(f"{MAX_SAME_SECOND} {kind} results already started at {stamp} in {folder}")
