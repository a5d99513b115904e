"""The inference canary against REAL llama-servers (SmolLM2) that are wedged: a proxy passes
`/health` and `/v1/models` but completions hang or answer HTTP 500.

External server: liveness still says up, the canary marks the model unhealthy with the reason, the
next request goes to the other model, and a canary that answers again puts it back. Managed server:
Steward launches a profile whose "binary" is the real llama-server behind such a proxy (wedged on its
first start only, see tests/support/wedged_llama.py), and the runtime restarts it after N canary
failures in a row: logged, an event, counted, the row's last exit says why, and the model comes back.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from tests.support.fake_keyring import FakeKeyring
from tests.support.fault_proxy import FaultProxy, OnPaths, Respond, Timeout, http_reply
from tests.support.llama import LlamaServer
from tests.support.wedged_llama import BINARY_ENV, MARKER_ENV, make_wedged_binary

from steward.backends.factory import make_backend
from steward.config import SecretStore, Settings
from steward.engine.breaker import BreakerState
from steward.engine.canary import InferenceCanary
from steward.engine.core import Engine
from steward.engine.events import AttemptStarted, CanaryFailed, Completed, EngineEvent
from steward.engine.failures import FailureKind
from steward.engine.health import HealthStatus
from steward.engine.request import ChatRequest
from steward.engine.settings import BreakerSettings, EngineSettings, TimeoutSettings
from steward.engine.types import ChatMessage, GenerationParams
from steward.runtime import Runtime, RuntimeOptions
from steward.servers import embedded
from steward.servers.events import ServerStateChanged
from steward.service.server_rows import server_rows

MODEL = "SmolLM2-135M-Instruct.Q4_1"
WEDGED, BACKUP = f"wedged/{MODEL}", f"backup/{MODEL}"
COMPLETIONS = "/v1/chat/completions"
SETTINGS = EngineSettings(
    timeouts=TimeoutSettings(connect_s=1.0, first_token_s=2.0, stall_s=5.0),
    breaker=BreakerSettings(reset_timeout_s=60.0, max_reset_timeout_s=60.0),  # only a canary closes it here
)
PATIENT_S = 30.0
"""The first-token timeout once a wedged server has been caught: what must answer then gets the time
an overloaded shared test box may need (a 30-token prompt has taken 3 s here)."""
HTTP_500 = http_reply(
    b'{"error":{"code":500,"message":"failed to decode the batch","type":"server_error"}}', status=500
)


async def until(predicate: Callable[[], bool], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not predicate():
        assert time.monotonic() < deadline, f"not within {within_s} s: {what}"
        await asyncio.sleep(0.05)


@pytest.fixture
def proxy(llama_small: LlamaServer) -> Iterator[FaultProxy]:
    with FaultProxy("127.0.0.1", llama_small.port) as p:
        yield p


@pytest.fixture
async def engine(proxy: FaultProxy, llama_large: LlamaServer) -> AsyncIterator[Engine]:
    engine = Engine(SETTINGS)
    for sid, url in (("wedged", proxy.url), ("backup", llama_large.url)):
        engine.add_backend(make_backend("llamacpp", sid, url, api_key=None, connect_s=1.0, stall_s=10.0))
    assert await engine.refresh_models() == []
    yield engine
    await engine.aclose()


@pytest.mark.parametrize(
    ("fault", "kind", "reason"),
    [
        (
            Timeout(),
            FailureKind.FIRST_TOKEN_TIMEOUT,
            r"canary: no first token after 2\.\d s \(first-token timeout 2 s\)",
        ),
        (Respond(HTTP_500), FailureKind.SERVER_ERROR, r"canary: HTTP 500: failed to decode the batch"),
    ],
    ids=["hang", "http-500"],
)
async def test_a_wedged_external_server_is_marked_unhealthy_and_routed_around(
    engine: Engine, proxy: FaultProxy, fault: Timeout | Respond, kind: FailureKind, reason: str
) -> None:
    proxy.set_fault(OnPaths((COMPLETIONS,), fault))
    events: list[EngineEvent] = []
    engine.subscribe(events.append)
    await engine.probe_all()
    wedged = engine.model(WEDGED)
    assert wedged is not None
    # Checked now rather than on the schedule (the unit tests cover that): on this shared, often
    # overloaded box a scheduled check of the healthy backup could time out too.
    canary = InferenceCanary(engine)
    assert await canary.check(wedged)
    assert wedged.health is HealthStatus.UNHEALTHY and re.fullmatch(reason, wedged.health_reason)
    assert wedged.last_error_kind is kind and wedged.breaker.state is BreakerState.OPEN
    await engine.probe_all()
    assert engine.snapshot().servers[0].state == "up", "liveness still says up"
    assert [e.model for e in events if isinstance(e, CanaryFailed)] == [WEDGED]

    engine.update_settings(replace(SETTINGS, timeouts=replace(SETTINGS.timeouts, first_token_s=PATIENT_S)))
    request = ChatRequest((ChatMessage("user", "Say hi."),), params=GenerationParams(max_tokens=4))
    answer = [e async for e in engine.chat(request)]
    done = answer[-1]
    assert isinstance(done, Completed) and done.model == BACKUP
    assert not [e for e in answer if isinstance(e, AttemptStarted) and e.model == WEDGED]

    proxy.clear()  # the server answers again: the next canary puts the model back
    assert await canary.check(wedged)
    assert wedged.canary_failure is None and wedged.breaker.state is BreakerState.CLOSED
    assert wedged.health is not HealthStatus.UNHEALTHY


async def _never() -> str | None:
    return None


async def test_a_wedged_managed_server_is_restarted_after_n_failures(
    llama_large: LlamaServer, tmp_path: Path
) -> None:
    parts = embedded.require()
    settings = Settings.model_validate(
        {
            "servers": [
                {
                    "name": "wedged",
                    "binary_path": str(make_wedged_binary(tmp_path)),
                    "model_path": str(parts.model),
                    "ctx_size": 1024,
                    "threads": 2,
                    "env": {MARKER_ENV: str(tmp_path / "started"), BINARY_ENV: str(parts.llama_server)},
                }
            ],
            "endpoints": [{"id": "backup", "kind": "llamacpp", "base_url": llama_large.url}],
            "embedded": {"enabled": False},
            "timeouts": {"connect_s": 1.0, "first_token_s": 2.0},
            "health": {"probe_interval_s": 0.5, "canary_interval_s": 0.2, "canary_failures_to_restart": 2},
        }
    )
    options = RuntimeOptions(
        settings=settings,
        settings_path=tmp_path / "settings.toml",
        store=False,
        embedded=False,
        discover=False,
        secrets=SecretStore(FakeKeyring()),
    )
    runtime = await Runtime.start(options)
    try:
        assert runtime.canary is not None and runtime.supervisor is not None
        runtime.canary.hold_off = _never  # this shared test box is often busy: the rule has its own tests
        events: list[EngineEvent] = []
        runtime.subscribe(events.append)
        server = runtime.supervisor.server("wedged")
        key = f"wedged/{MODEL}"
        await until(lambda: server.restarts == 1, 60.0, "the managed server is restarted")
        patient = runtime.settings.with_changes("timeouts.first_token_s", PATIENT_S)
        await runtime.apply_settings(patient, save=False)  # the restarted server may be slow, not wedged
        why = server.status().last_exit.removeprefix("restarted: ")
        assert re.fullmatch(
            r"canary failed 2× in a row: no first token after 2\.\d s \(first-token timeout 2 s\)", why
        )
        failed = [e.action for e in events if isinstance(e, CanaryFailed) and e.model == key]
        assert failed[:2] == ["routed around", "restarting the server"]
        assert any(
            isinstance(e, ServerStateChanged) and e.state == "restarting" and e.detail == why for e in events
        )
        assert any(f"restarted: {why}" in line.text for line in server.log_tail())

        model = runtime.engine.model(key)
        assert model is not None
        await until(lambda: model.canary_failure is None, 60.0, "the restarted server answers the canary")
        assert model.breaker.state is BreakerState.CLOSED
        row = next(
            r
            for r in server_rows(
                runtime.known, runtime.supervisor.snapshot(), runtime.engine.snapshot().servers
            )
            if r.name == "wedged"
        )
        assert row.restarts == server.restarts and row.last_exit == server.status().last_exit
        assert row.status == "ready"
    finally:
        await runtime.stop()
