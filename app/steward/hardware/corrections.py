"""Self-correcting fit estimates: remember how far an estimate was from what a server really used.

When a server reports a loaded model's real footprint (Ollama `size`/`size_vram`,
NVML per-process memory, a process RSS), `record` stores observed ÷ estimated for
that model, smoothed over observations and clamped to a sane range; later estimates
multiply by `get(model)`. In-memory for now; `snapshot`/`load` let the store persist it.
"""

from __future__ import annotations

from collections.abc import Mapping


class CorrectionStore:
    """Per-model memory correction ratios (1.0 = the estimate was right)."""

    def __init__(self, *, smoothing: float = 0.5, min_ratio: float = 0.5, max_ratio: float = 3.0) -> None:
        if not 0 < smoothing <= 1:
            raise ValueError("smoothing must be in (0, 1]")
        self._ratios: dict[str, float] = {}
        self._smoothing = smoothing
        self._min = min_ratio
        self._max = max_ratio

    def get(self, model: str) -> float:
        """The ratio to apply to `model`'s estimates (1.0 when nothing was observed)."""
        return self._ratios.get(model, 1.0)

    def set(self, model: str, ratio: float) -> None:
        """Store a ratio directly (clamped), e.g. when loading persisted values."""
        if ratio <= 0:
            raise ValueError("ratio must be positive")
        self._ratios[model] = min(self._max, max(self._min, ratio))

    def record(self, model: str, estimated_bytes: int, observed_bytes: int) -> float:
        """Blend in one observation (estimate must be the *uncorrected* one); returns the new ratio."""
        if estimated_bytes <= 0 or observed_bytes <= 0:
            return self.get(model)
        observed = observed_bytes / estimated_bytes
        previous = self._ratios.get(model)
        blended = observed if previous is None else previous + self._smoothing * (observed - previous)
        self.set(model, blended)
        return self.get(model)

    def snapshot(self) -> dict[str, float]:
        """A copy of all ratios (for persistence and display)."""
        return dict(self._ratios)

    def load(self, ratios: Mapping[str, float]) -> None:
        """Replace all ratios with persisted ones."""
        self._ratios.clear()
        for model, ratio in ratios.items():
            self.set(model, ratio)
