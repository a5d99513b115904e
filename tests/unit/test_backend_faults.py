"""The drill's injected faults: each raises what the same real failure raises (same kind, through
the same classifiers), on the faulted model only; with no fault the real stream passes through."""

from __future__ import annotations

import asyncio

import pytest
from tests.support.fake_backend import FakeBackend, ok

from steward.backends.faults import CUT_AFTER_CHUNKS, LOOP_TOKEN, Fault, FaultKind, FaultyBackend
from steward.engine.clock import SystemClock
from steward.engine.failures import BackendError, FailureKind
from steward.engine.types import ChatMessage, GenerationParams

ASK = [ChatMessage("user", "hi")]
PARAMS = GenerationParams(max_tokens=8)


def wrapped() -> tuple[FaultyBackend, FakeBackend]:
    """A FAKE server with models "m" and "other" answering six tokens, inside the fault wrapper."""
    fake = FakeBackend("srv", SystemClock(), {"m": 4096, "other": 4096})
    for name in ("m", "other"):
        fake.script(name, default=ok("a", "b", "c", "d", "e", "f"))
    return FaultyBackend(fake), fake


async def texts(backend: FaultyBackend, model: str = "m", limit: int = 100) -> list[str]:
    got: list[str] = []
    async for chunk in backend.stream_chat(model, ASK, PARAMS):
        got.append(chunk.text)
        if len(got) >= limit:
            break
    return got


async def test_without_a_fault_the_real_answer_passes_through() -> None:
    backend, _ = wrapped()
    assert "".join(await texts(backend)) == "abcdef"
    assert backend.server_id == "srv" and (await backend.list_models())[0].name == "m"


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        (FaultKind.REFUSED, FailureKind.CONNECTION_REFUSED),
        (FaultKind.ERROR_200, FailureKind.BAD_RESPONSE),  # as the architecture names a 200 carrying an error
        (FaultKind.GARBAGE, FailureKind.BAD_RESPONSE),
        (FaultKind.CUT, FailureKind.CONNECTION_LOST),
    ],
)
async def test_each_fault_fails_as_the_real_failure_is_classified(
    fault: FaultKind, kind: FailureKind
) -> None:
    backend, _ = wrapped()
    backend.fault = Fault(fault, "m")
    got: list[str] = []
    with pytest.raises(BackendError) as info:
        async for chunk in backend.stream_chat("m", ASK, PARAMS):
            got.append(chunk.text)
    assert info.value.kind is kind
    assert len(got) == (CUT_AFTER_CHUNKS if fault is FaultKind.CUT else 0)


async def test_a_hang_never_sends_anything() -> None:
    backend, _ = wrapped()
    backend.fault = Fault(FaultKind.HANG, "m")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(texts(backend), 0.1)


async def test_a_loop_repeats_one_token_without_end() -> None:
    backend, _ = wrapped()
    backend.fault = Fault(FaultKind.LOOP, "m")
    assert await texts(backend, limit=50) == [LOOP_TOKEN] * 50


async def test_a_trickle_is_the_real_answer_slowed_down() -> None:
    backend, _ = wrapped()
    backend.fault = Fault(FaultKind.TRICKLE, "m", trickle_s=0.02)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert "".join(await texts(backend)) == "abcdef"
    assert loop.time() - started >= 6 * 0.02 * 0.9


async def test_only_the_faulted_model_feels_it() -> None:
    backend, _ = wrapped()
    backend.fault = Fault(FaultKind.REFUSED, "m")
    assert "".join(await texts(backend, "other")) == "abcdef"
    backend.fault = None
    assert "".join(await texts(backend, "m")) == "abcdef"
