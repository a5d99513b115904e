"""The recent-requests list behind the gateway panel: one row per request, newest first."""

from __future__ import annotations

from steward.engine.events import AttemptStarted, Completed, RequestFailed, RequestStarted
from steward.engine.failures import FailureKind
from steward.service.recent import RecentRequests


def started(rid: str, ts: float, source: str = "gateway") -> RequestStarted:
    return RequestStarted(
        ts, rid, "sequential", ("a/m", "b/m"), "auto", source=source, client="curl/8", asked="auto"
    )


def test_rows_say_who_asked_who_answered_and_how_it_went() -> None:
    recent = RecentRequests(sources=frozenset({"gateway"}))
    changes: list[int] = []
    recent.on_change = lambda: changes.append(1)
    recent(started("r1", 10.0))
    recent(AttemptStarted(10.0, "r1", "a/m", 1, "first"))
    recent(AttemptStarted(10.5, "r1", "b/m", 2, "fallback"))
    recent(Completed(11.5, "r1", "b/m", "hi", None, None, 0.2, 1.5, 2))
    recent(started("r2", 12.0))
    recent(RequestFailed(12.25, "r2", "no model could answer", (FailureKind.CONNECTION_REFUSED,)))
    recent(started("r3", 13.0, source="chat"))  # not a gateway request: not listed
    recent(started("r4", 14.0))
    rows = recent.rows()
    assert [r.request_id for r in rows] == ["r4", "r2", "r1"]
    assert rows[0].outcome == "running" and rows[0].client == "curl/8"
    assert (rows[1].outcome, rows[1].seconds) == ("failed: connection_refused", 0.25)
    assert (rows[2].answered_by, rows[2].outcome, rows[2].seconds) == (
        "b/m",
        "answered after 1 fallback(s)",
        1.5,
    )
    assert len(changes) == 2


def test_only_the_last_limit_finished_requests_are_kept() -> None:
    recent = RecentRequests(limit=3)
    for n in range(5):
        recent(started(f"r{n}", float(n)))
        recent(Completed(float(n), f"r{n}", "a/m", "", None, None, 0.1, 0.1, 1))
    assert [r.request_id for r in recent.rows()] == ["r4", "r3", "r2"]
