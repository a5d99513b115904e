"""The application service against a REAL llama-server: one place builds requests and their
defaults, applies settings everywhere, and adds / edits / tests / removes endpoints (keys in a
FAKE in-memory keyring: there is no OS keyring here)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import keyring.backends.fail
import pytest
from tests.support.llama import LlamaServer, free_port
from tests.support.service import quiet_options

from steward.config import SecretStore, Settings, SettingsFile
from steward.engine.events import AttemptStarted, Completed, EngineEvent, RequestFailed, RequestStarted
from steward.service import StewardService

MODEL = "SmolLM2-135M-Instruct.Q4_1"


@pytest.fixture
async def service(tmp_path: Path, llama_small: LlamaServer) -> AsyncIterator[StewardService]:
    settings = Settings.model_validate(
        {
            "endpoints": [{"id": "small", "kind": "llamacpp", "base_url": llama_small.url}],
            "routing": {"default_model": f"small/{MODEL}"},
            "context": {"max_reply_tokens": 12},
        }
    )
    options = quiet_options(settings, tmp_path)
    started = await StewardService.start(options)
    try:
        yield started
    finally:
        await started.stop()


async def collect(service: StewardService, **kw: object) -> list[EngineEvent]:
    request = service.build_request([("user", "Name a color.")], **kw)  # type: ignore[arg-type]
    return [event async for event in service.ask(request)]


async def test_requests_take_their_defaults_from_one_place(service: StewardService) -> None:
    request = service.build_request([("user", "hi")])
    assert request.model == f"small/{MODEL}" and request.strategy is None
    assert request.params.max_tokens is None  # the engine applies context.max_reply_tokens
    events = await collect(service, source="cli")
    started, done = events[0], events[-1]
    assert isinstance(started, RequestStarted) and started.source == "cli"
    assert isinstance(done, Completed) and done.usage is not None
    assert (done.usage.completion_tokens or 0) <= 12
    with pytest.raises(ValueError, match="unknown strategy 'fastest'"):
        service.build_request([("user", "hi")], strategy="fastest")
    with pytest.raises(ValueError, match="unknown message role 'robot'"):
        service.build_request([("robot", "hi")])


async def test_apply_refuses_invalid_changes_whole_and_applies_valid_ones_everywhere(
    service: StewardService, tmp_path: Path
) -> None:
    refused = await service.apply({"breaker.failure_threshold": 0, "timeouts.first_token_s": 9.0})
    assert refused.settings is None and refused.problems[0][0] == "breaker.failure_threshold"
    assert service.settings.timeouts.first_token_s == 20.0, "nothing of a refused change is applied"
    applied = await service.apply({"timeouts.first_token_s": 9.0, "routing.fallback_to_any": False})
    assert applied.ok and applied.save_error is None
    assert service.runtime.engine.settings.timeouts.first_token_s == 9.0
    assert service.runtime.engine.settings.routing.fallback_to_any is False
    saved = SettingsFile(tmp_path / "settings.toml").check().settings
    assert saved.timeouts.first_token_s == 9.0


async def test_endpoints_are_tested_added_edited_and_removed(
    service: StewardService, llama_large: LlamaServer
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    check = await service.endpoints.test("llamacpp", dead)
    assert not check.ok and check.summary.startswith("not reachable: nothing listens")
    check = await service.endpoints.test("llamacpp", llama_large.url)
    assert check.ok and check.models == (MODEL,) and check.kind == "llama.cpp" and check.version
    assert check.summary == f"llama.cpp {check.version}: llamacpp server up, 1 model: {MODEL}"
    check = await service.endpoints.test("ollama", llama_large.url)
    assert not check.ok, "an Ollama adapter gets no answer it understands from llama-server"
    configured = await service.endpoints.test_configured("small")
    assert configured.ok and configured.models == (MODEL,)

    problems = await service.endpoints.add("big", "llamacpp", "ftp://nowhere")
    assert problems and problems[0][0] == "base_url"
    assert await service.endpoints.add("big", "llamacpp", llama_large.url, api_key="sk-local-123") == []
    assert service.runtime.secrets.get("endpoint-big") == "sk-local-123"
    assert [e.api_key_ref for e in service.settings.endpoints if e.id == "big"] == ["endpoint-big"]
    assert service.runtime.engine.model(f"big/{MODEL}") is not None
    assert "sk-local-123" not in (service.runtime.settings_file.path.read_text())

    assert await service.endpoints.edit("big", "llamacpp", dead) == []  # the key is kept
    assert [e.base_url for e in service.settings.endpoints if e.id == "big"] == [dead]
    assert service.runtime.secrets.get("endpoint-big") == "sk-local-123"

    assert await service.endpoints.remove("big") == []
    assert [e.id for e in service.settings.endpoints] == ["small"]
    assert service.runtime.secrets.get("endpoint-big") is None
    assert all(b.server_id != "big" for b in service.runtime.engine.backends())
    assert service.runtime.engine.model(f"big/{MODEL}") is None
    assert await service.endpoints.remove("big") == [("id", "no endpoint named 'big'")]


async def test_a_forgotten_key_leaves_the_keyring_and_removing_needs_no_keyring_without_a_key(
    service: StewardService, llama_large: LlamaServer
) -> None:
    assert await service.endpoints.add("big", "llamacpp", llama_large.url, api_key="sk-local-123") == []
    assert await service.endpoints.edit("big", "llamacpp", llama_large.url, api_key="") == []
    assert [e.api_key_ref for e in service.settings.endpoints if e.id == "big"] == [None]
    assert service.runtime.secrets.get("endpoint-big") is None, "forgetting the key deletes it"
    service.runtime.secrets = SecretStore(backend=keyring.backends.fail.Keyring())  # no OS keyring
    assert await service.endpoints.remove("big") == []
    assert [e.id for e in service.settings.endpoints] == ["small"]


async def test_quarantine_release_and_per_request_fallback_off(service: StewardService) -> None:
    key = f"small/{MODEL}"
    service.quarantine(key, "  ", 60.0)
    snap = next(m for m in service.snapshot().models if m.key == key)
    assert snap.quarantine is not None and snap.quarantine.reason == "", "a blank reason stays blank"
    events = await collect(service, fallback=False)
    assert isinstance(events[-1], RequestFailed)
    assert not [e for e in events if isinstance(e, AttemptStarted)]
    assert service.release(key) is True
    events = await collect(service, fallback=False)
    assert isinstance(events[-1], Completed) and events[-1].model == key


async def test_quick_successive_edits_all_land_in_the_order_they_were_made(service: StewardService) -> None:
    """Two edits of different settings and two of the same one, asked at once (a user ticking
    boxes quickly): each is merged into the settings as the previous ones left them, in order, and
    the file ends as the last one left it. The first edit's save is made slow (a FAKE delay in its thread,
    as a busy disk does): before, the saves raced and the first, older settings were left on disk."""
    file = service.runtime.settings_file
    real_save, saves = file.save, []

    def slow_first_save(settings: Settings) -> None:
        saves.append(settings)
        if settings.timeouts.connect_s != 2.5:  # the settings as the first edit alone left them
            time.sleep(0.3)
        real_save(settings)

    file.save = slow_first_save  # type: ignore[method-assign]
    applied = await asyncio.gather(
        service.apply({"breaker.failure_threshold": 7}),
        service.apply({"timeouts.connect_s": 2.5}),
        service.apply({"routing.fallback_chain": [f"small/{MODEL}"]}),
        service.apply({"routing.fallback_chain": []}),
    )
    assert all(a.ok for a in applied)
    live = service.settings
    assert live.breaker.failure_threshold == 7 and live.timeouts.connect_s == 2.5
    assert list(live.routing.fallback_chain) == [], "the later edit of the same setting is the one kept"
    on_disk = service.runtime.settings_file.load().settings
    assert on_disk.breaker.failure_threshold == 7 and on_disk.timeouts.connect_s == 2.5
    assert list(on_disk.routing.fallback_chain) == []
