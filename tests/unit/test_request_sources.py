"""Which front end asked for a request, followed from RequestStarted to its final event."""

from __future__ import annotations

from steward.engine.events import AttemptFailed, Completed, RequestFailed, RequestStarted
from steward.engine.failures import FailureKind
from steward.engine.request_sources import MAX_OPEN_REQUESTS, RequestSources

KEY = "small/m"


def started(rid: str, source: str) -> RequestStarted:
    return RequestStarted(1.0, rid, "sequential", (KEY,), "", source=source)


def test_attempts_and_the_final_event_carry_the_source_of_their_request_then_it_is_forgotten() -> None:
    sources = RequestSources()
    assert sources.source_of(started("g", "gateway")) == "gateway"
    assert sources.source_of(started("l", "lab")) == "lab"
    failed = AttemptFailed(2.0, "g", KEY, 1, FailureKind.CONNECTION_REFUSED, "refused", 0.01, True)
    assert sources.source_of(failed) == "gateway"
    assert sources.source_of(Completed(3.0, "g", KEY, "hi", None, None, 0.1, 0.2, 2)) == "gateway"
    assert sources.source_of(RequestFailed(3.0, "l", "stopped", (FailureKind.CANCELLED,))) == "lab"
    assert len(sources) == 0, "both requests ended"


def test_an_event_of_an_unknown_request_counts_as_chat() -> None:
    sources = RequestSources()
    assert sources.source_of(Completed(3.0, "x", KEY, "hi", None, None, 0.1, 0.2, 1)) == "chat"


def test_requests_that_never_end_are_not_remembered_forever() -> None:
    sources = RequestSources()
    for i in range(MAX_OPEN_REQUESTS + 50):
        sources.source_of(started(f"r{i}", "lab"))
    assert len(sources) == MAX_OPEN_REQUESTS
    # the oldest went first: r0 is forgotten (so it reads as chat), the newest is still known
    assert sources.source_of(AttemptFailed(2.0, "r0", KEY, 1, FailureKind.UNKNOWN, "x", 0.0, True)) == "chat"
    assert (
        sources.source_of(
            AttemptFailed(2.0, f"r{MAX_OPEN_REQUESTS + 49}", KEY, 1, FailureKind.UNKNOWN, "x", 0.0, True)
        )
        == "lab"
    )
