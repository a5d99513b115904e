"""Manual quarantine: a user's (or the app's) override that takes a model out of rotation,
with a reason and an optional expiry, independent of the circuit breaker."""

from __future__ import annotations

from dataclasses import dataclass

from steward.engine.clock import Clock


@dataclass(frozen=True)
class QuarantineEntry:
    key: str
    reason: str
    since: float
    until: float | None
    """Clock time at which it expires by itself; None = until released."""

    def remaining(self, now: float) -> float | None:
        return None if self.until is None else max(0.0, self.until - now)


class QuarantineBook:
    """Which models are quarantined now. Expiry is read lazily on the injected clock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._entries: dict[str, QuarantineEntry] = {}

    def quarantine(self, key: str, reason: str, duration_s: float | None) -> QuarantineEntry:
        now = self._clock.now()
        entry = QuarantineEntry(key, reason, now, None if duration_s is None else now + duration_s)
        self._entries[key] = entry
        return entry

    def release(self, key: str) -> QuarantineEntry | None:
        """Remove a quarantine; returns what was released (None if there was none)."""
        return self._entries.pop(key, None)

    def get(self, key: str) -> QuarantineEntry | None:
        entry = self._entries.get(key)
        if entry is not None and entry.until is not None and self._clock.now() >= entry.until:
            return None
        return entry

    def is_quarantined(self, key: str) -> bool:
        return self.get(key) is not None

    def pop_expired(self) -> list[QuarantineEntry]:
        """Entries whose expiry has passed, removed (the engine emits `Released` for each)."""
        now = self._clock.now()
        expired = [e for e in self._entries.values() if e.until is not None and now >= e.until]
        for entry in expired:
            del self._entries[entry.key]
        return expired

    def active(self) -> list[QuarantineEntry]:
        return [e for e in self._entries.values() if self.get(e.key) is not None]
