"""Ollama model operations (load/warm, unload, list loaded) against the FAKE Ollama server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.support.ollama_fake import FakeModel, OllamaFake

from steward.engine.events import EngineEvent
from steward.servers.events import ModelOperation
from steward.servers.models import ModelOperationError, OllamaModelOps


@pytest.fixture
def fake() -> Iterator[OllamaFake]:
    with OllamaFake([FakeModel("llama3.2:1b", size=1_300_000_000, size_vram=900_000_000)]) as server:
        yield server


def operations(events: list[EngineEvent]) -> list[tuple[str, str, bool]]:
    return [(e.model, e.operation, e.ok) for e in events if isinstance(e, ModelOperation)]


async def test_load_warms_the_model_with_its_window_and_lists_it_loaded(fake: OllamaFake) -> None:
    events: list[EngineEvent] = []
    ops = OllamaModelOps("home", fake.url, on_event=events.append)

    await ops.load("llama3.2:1b", keep_alive="10m", num_ctx=4096)
    loaded = await ops.loaded()

    assert fake.bodies("/api/generate")[-1] == {
        "model": "llama3.2:1b",
        "stream": False,
        "keep_alive": "10m",
        "options": {"num_ctx": 4096},
    }
    assert [(m.name, m.size_vram, m.context_length) for m in loaded] == [("llama3.2:1b", 900_000_000, 4096)]
    assert loaded[0].expires_at is not None
    assert operations(events) == [("home/llama3.2:1b", "load", True)]


async def test_unload_sends_keep_alive_zero_and_frees_the_model(fake: OllamaFake) -> None:
    events: list[EngineEvent] = []
    ops = OllamaModelOps("home", fake.url, on_event=events.append)
    await ops.load("llama3.2:1b")

    await ops.unload("llama3.2:1b")

    assert fake.bodies("/api/generate")[-1]["keep_alive"] == 0
    assert await ops.loaded() == []
    assert operations(events)[-1] == ("home/llama3.2:1b", "unload", True)


async def test_loading_an_unknown_model_fails_with_the_servers_reason(fake: OllamaFake) -> None:
    events: list[EngineEvent] = []
    ops = OllamaModelOps("home", fake.url, on_event=events.append)

    with pytest.raises(ModelOperationError, match="not found"):
        await ops.load("nope:7b")

    (event,) = [e for e in events if isinstance(e, ModelOperation)]
    assert (event.model, event.ok) == ("home/nope:7b", False) and "not found" in event.detail
