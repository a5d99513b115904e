"""`Running`: a request the engine is answering (from `Engine.start`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


@dataclass(frozen=True)
class Running:
    """One request in flight. `task` is None when it was answered at once (a refused input)."""

    request_id: str
    task: asyncio.Task[None] | None

    @property
    def done(self) -> bool:
        return self.task is None or self.task.done()

    async def cancel(self) -> None:
        """Stop answering (closing every connection the request opened) and wait until it stopped."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
