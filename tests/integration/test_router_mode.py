"""Router mode end to end against a REAL llama-server router over both real models (SmolLM2 135M,
Gemma 3 270M — a base model: it loops, so answers are capped at a few tokens) plus a broken GGUF.
`--models-max 1`: loading one model evicts the other. One router serves the whole module; each
test first puts the models in the state it needs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from tests.support.llama import LlamaServer
from tests.support.router import BROKEN_ID, GEMMA_ID, SMOL_ID, make_router_server, models_dir
from tests.support.service import quiet_options

from steward.backends.factory import make_backend
from steward.backends.llamacpp import LlamaCppBackend
from steward.backends.llamacpp_router import UNLOADED, RouterStatus
from steward.config import Settings
from steward.engine.core import Engine
from steward.engine.events import AttemptFailed, Completed, EngineEvent, ModelLoading, RequestFailed
from steward.engine.failures import FailureKind
from steward.engine.types import ChatMessage
from steward.servers.discovery import discover
from steward.servers.models import ModelOperationError
from steward.servers.router import RouterFollower
from steward.service import StewardService
from steward.service.router_ops import router_backend

SMOL, GEMMA, BROKEN = f"router/{SMOL_ID}", f"router/{GEMMA_ID}", f"router/{BROKEN_ID}"


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    folder = models_dir(tmp_path_factory.mktemp("router-models"), broken=True)
    server = make_router_server(tmp_path_factory.mktemp("router-logs"), folder, models_max=1).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def service(tmp_path: Path, router: LlamaServer) -> AsyncIterator[StewardService]:
    settings = Settings.model_validate(
        {
            "endpoints": [{"id": "router", "kind": "llamacpp", "base_url": router.url}],
            "timeouts": {"model_loading_wait_s": 60.0},
        }
    )
    started = await StewardService.start(quiet_options(settings, tmp_path))
    try:
        yield started
    finally:
        await started.stop()


def status_of(service: StewardService, key: str) -> str | None:
    model = service.snapshot().model(key)
    return model.load_status if model is not None else None


async def test_discovery_says_router_mode_and_lists_every_model_with_its_status(router: LlamaServer) -> None:
    [found] = await discover([router.port])
    assert found.kind == "llamacpp" and found.router
    assert found.detail.startswith("llama.cpp router mode, 3 models")
    assert set(found.models) == {SMOL_ID, GEMMA_ID, BROKEN_ID}
    statuses = dict(found.statuses)
    assert set(statuses) == set(found.models)
    assert all(s in {"loaded", "loading…", "unloaded", "failed (exit 1)"} for s in statuses.values())


async def test_a_chat_to_an_unloaded_model_loads_it_visibly_and_warm_up_is_no_failure(
    service: StewardService,
) -> None:
    await service.load_model(SMOL, True)  # --models-max 1: Gemma is now unloaded
    assert status_of(service, SMOL) == "loaded" and status_of(service, GEMMA) == "unloaded"
    request = service.build_request([("user", "Hello")], model=GEMMA, max_tokens=4, fallback=False)
    events: list[EngineEvent] = [event async for event in service.ask(request)]
    assert isinstance(events[-1], Completed) and events[-1].model == GEMMA, events[-1]
    loading = [e for e in events if isinstance(e, ModelLoading)]
    assert loading and loading[0].model == GEMMA and "loading on the router" in loading[0].detail
    warm = [e for e in events if isinstance(e, AttemptFailed)]
    assert warm and all(e.kind is FailureKind.MODEL_LOADING and e.will_retry for e in warm)
    gemma = service.snapshot().model(GEMMA)
    assert gemma is not None and gemma.breaker == "closed" and gemma.consecutive_failures == 0
    assert gemma.metrics.requests == gemma.metrics.successes == 1  # the warm-up is no failed request
    await service.runtime.engine.refresh_models()
    assert status_of(service, GEMMA) == "loaded" and status_of(service, SMOL) == "unloaded"


async def test_load_and_unload_from_the_service_and_the_actions_follow_the_status(
    service: StewardService,
) -> None:
    assert service.model_ops_unsupported(SMOL) is None
    backend, _ = router_backend(service.runtime.engine, SMOL)
    assert backend is not None
    hello = [ChatMessage("user", "Hello there")]
    await service.load_model(SMOL, False)
    assert status_of(service, SMOL) == "unloaded"
    assert service.model_load_actions(SMOL) == (None, "it is unloaded")
    assert await backend.count_tokens(SMOL_ID, hello) is None, "counting would load it: estimated instead"
    assert (await backend.router_status(SMOL_ID)) == RouterStatus(UNLOADED)
    await service.load_model(SMOL, True)
    assert status_of(service, SMOL) == "loaded"
    assert service.model_load_actions(SMOL) == ("it is loaded", None)
    assert (await backend.count_tokens(SMOL_ID, hello) or 0) > 0, "a loaded model counts exactly"
    with pytest.raises(ModelOperationError, match=r"load failed \(exit 1\)"):
        await service.load_model(BROKEN, True)
    assert status_of(service, BROKEN) == "failed (exit 1)"
    assert service.model_load_actions(BROKEN)[0] is None  # a failed model may be loaded again
    broken = service.snapshot().model(BROKEN)
    assert broken is not None and broken.health == "unhealthy", "a model that failed to load is not healthy"
    assert broken.health_reason == "the server says: failed to load (exit 1)"


async def test_a_router_without_autoload_sends_requests_elsewhere_instead_of_failing(
    tmp_path: Path,
) -> None:
    folder = models_dir(tmp_path / "models")
    server = make_router_server(tmp_path, folder, extra=["--no-models-autoload"]).start()
    settings = Settings.model_validate(
        {"endpoints": [{"id": "router", "kind": "llamacpp", "base_url": server.url}]}
    )
    service = await StewardService.start(quiet_options(settings, tmp_path))
    try:
        request = service.build_request([("user", "Hi")], model=SMOL, max_tokens=2, fallback=False)
        events = [event async for event in service.ask(request)]
        assert isinstance(events[-1], RequestFailed)
        failed = next(e for e in events if isinstance(e, AttemptFailed))
        assert failed.kind is FailureKind.MODEL_NOT_FOUND and "load it from Models" in failed.detail
        smol = service.snapshot().model(SMOL)
        assert smol is not None and smol.breaker == "closed" and smol.consecutive_failures == 0
        await service.load_model(SMOL, True)  # the user loads it: now it answers
        events = [event async for event in service.ask(request)]
        assert isinstance(events[-1], Completed)
    finally:
        await service.stop()
        server.stop()


async def test_live_status_follows_the_routers_event_stream(router: LlamaServer) -> None:
    backend = make_backend("llamacpp", "router", router.url, api_key=None, connect_s=2.0, stall_s=30.0)
    assert isinstance(backend, LlamaCppBackend)
    engine = Engine()
    engine.add_backend(backend)
    await engine.refresh_models()
    follower = RouterFollower(backend, engine)
    task = asyncio.ensure_future(follower.run())
    try:
        async with httpx.AsyncClient(base_url=router.url) as client:
            await client.post("/models/unload", json={"model": SMOL_ID})
            await client.post("/models/unload", json={"model": GEMMA_ID})

            async def status(key: str, want: str) -> None:
                def now() -> str | None:
                    state = engine.model(key)
                    return (
                        None if state is None or state.info is None else state.info.extra.get("load_status")
                    )

                for _ in range(400):  # the follower updates the engine: look every 50 ms
                    if now() == want:
                        return
                    await asyncio.sleep(0.05)
                raise AssertionError(f"{key} is {now()}, not {want}")

            await status(SMOL, "unloaded")
            before = follower.changes
            # Loaded by someone else (not through Steward): the stream tells us, no poll needed.
            await client.post("/models/load", json={"model": SMOL_ID})
            await status(SMOL, "loaded")
            assert follower.changes > before
            state = engine.model(SMOL)
            assert state is not None and state.info is not None and state.info.loaded_context == 512
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.aclose()


async def test_a_managed_router_profile_starts_and_its_models_appear(tmp_path: Path) -> None:
    settings = Settings.model_validate({})
    service = await StewardService.start(quiet_options(settings, tmp_path))
    try:
        problems = service.check_managed({"name": "mine", "models_dir": str(tmp_path / "none")})
        assert problems and "does not exist" in problems[0][1]
        problems = service.check_managed(
            {"name": "mine", "models_dir": str(tmp_path), "model_path": "/m.gguf"}
        )
        assert problems and "exclusive" in problems[0][1]
        folder = models_dir(tmp_path / "models")
        profile = {"name": "mine", "models_dir": str(folder), "models_max": 1, "ctx_size": 512, "threads": 2}
        problems, status = await service.add_managed(profile)
        assert not problems and status is not None and status.state == "ready", (problems, status)
        assert "--models-dir" in " ".join(service.runtime.supervisor.server("mine").profile.argv(1))  # type: ignore[union-attr]
        keys = {m.key: m.load_status for m in service.snapshot().models}
        assert keys == {f"mine/{SMOL_ID}": "unloaded", f"mine/{GEMMA_ID}": "unloaded"}
    finally:
        await service.stop()


async def test_a_sleeping_model_is_woken_by_a_chat_and_sleep_is_no_failure(tmp_path: Path) -> None:
    folder = models_dir(tmp_path / "models")
    server = make_router_server(tmp_path, folder, extra=["--sleep-idle-seconds", "1"]).start()
    settings = Settings.model_validate(
        {"endpoints": [{"id": "router", "kind": "llamacpp", "base_url": server.url}]}
    )
    service = await StewardService.start(quiet_options(settings, tmp_path))
    try:
        await service.load_model(SMOL, True)
        for _ in range(100):  # idle for 1 s: the router puts it to sleep
            await service.runtime.engine.refresh_models()
            if status_of(service, SMOL) == "sleeping":
                break
            await asyncio.sleep(0.1)
        assert status_of(service, SMOL) == "sleeping"
        assert service.model_load_actions(SMOL) == ("it is sleeping", None)
        request = service.build_request([("user", "Hi")], model=SMOL, max_tokens=2, fallback=False)
        events = [event async for event in service.ask(request)]
        assert isinstance(events[-1], Completed)
        assert not [e for e in events if isinstance(e, AttemptFailed)]  # the router wakes it itself
        smol = service.snapshot().model(SMOL)
        assert smol is not None and smol.breaker == "closed" and smol.consecutive_failures == 0
    finally:
        await service.stop()
        server.stop()
