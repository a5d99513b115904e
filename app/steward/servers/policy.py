"""How the supervisor treats its processes: timeouts, grace, backoff, crash-loop limit, buffers.

Not (yet) part of the settings file; the defaults suit interactive use. Tests pass small
values so crash loops and restarts play out in well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass

from steward.servers.oom import DEFAULT_CTX_FLOOR


@dataclass(frozen=True)
class SupervisorPolicy:
    """Timing and limits of supervision (seconds unless named otherwise)."""

    ready_timeout_s: float = 180.0  # a big model can take minutes to load
    health_interval_s: float = 0.2
    health_request_timeout_s: float = 2.0
    grace_s: float = 5.0  # SIGTERM → SIGKILL
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    max_restarts: int = 5  # crashes tolerated within crash_window_s before FAILED
    crash_window_s: float = 300.0
    log_lines: int = 2000  # in-memory ring per server
    log_tail_lines: int = 20  # lines carried by crash/failure events
    log_file_bytes: int = 1_000_000
    log_file_backups: int = 3
    oom_ctx_floor: int = DEFAULT_CTX_FLOOR
    reap_grace_s: float = 3.0

    def backoff(self, crashes_in_window: int) -> float:
        """Delay before restart number `crashes_in_window` (1, 2, 4 ... × initial, capped)."""
        exponent = max(0, crashes_in_window - 1)
        return float(min(self.backoff_max_s, self.backoff_initial_s * (2**exponent)))
