"""Router-mode wire formats, parsed from payloads RECORDED from the pinned llama-server build
(tests/unit/data/router: `GET /models` with a loaded, a failed and a loading model; `/props`;
two `/models/sse` captures: autoload with an eviction and a failed load, and a sleep)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from steward.backends.llamacpp_router import (
    FAILED,
    LOADED,
    LOADING,
    SLEEPING,
    UNLOADED,
    RouterStatus,
    is_router_props,
    parse_event,
    parse_models,
    parse_status,
)
from steward.backends.streams import SseDecoder

DATA = Path(__file__).parent / "data" / "router"
SMOL = "SmolLM2-135M-Instruct.Q4_1"
GEMMA = "gemma-3-270m-q4_k_m"


def _events(name: str) -> list[tuple[str, str, str | None, str | None]]:
    decoder = SseDecoder()
    events = decoder.feed((DATA / name).read_text()) + decoder.close()
    parsed = [parse_event(e.data) for e in events]
    assert all(p is not None for p in parsed)
    return [
        (p.model, p.event, p.status.value if p.status else None, p.status.words if p.status else None)
        for p in parsed
        if p is not None
    ]


def test_models_list_gives_each_model_its_status_path_and_window() -> None:
    models = {m.id: m for m in parse_models(json.loads((DATA / "models_mixed.json").read_text()))}
    assert set(models) == {SMOL, GEMMA, "broken"}
    smol, gemma, broken = models[SMOL], models[GEMMA], models["broken"]
    assert smol.status == RouterStatus(LOADED) and smol.status.words == "loaded"
    assert smol.loaded_context == 512 and smol.trained_context == 8192
    assert smol.path is not None and smol.path.endswith(f"{SMOL}.gguf")  # from status.args --model
    assert smol.source == "models_dir"
    assert gemma.status.value == LOADING and gemma.status.words == "loading…" and gemma.loaded_context is None
    # The build reports a failed load as unloaded + failed + exit_code: Steward calls it failed.
    assert broken.status == RouterStatus(FAILED, 1) and broken.status.words == "failed (exit 1)"


def test_load_and_unload_make_sense_by_status_and_warm_up_is_never_a_failure() -> None:
    assert RouterStatus(UNLOADED).can_load and not RouterStatus(UNLOADED).can_unload
    assert RouterStatus(FAILED, 1).can_load and not RouterStatus(FAILED, 1).warming
    for running in (LOADED, LOADING, SLEEPING):
        assert not RouterStatus(running).can_load and RouterStatus(running).can_unload
    assert all(RouterStatus(v).warming for v in (UNLOADED, LOADING, SLEEPING))
    assert not RouterStatus(LOADED).warming


def test_props_tell_a_router_from_a_one_model_server() -> None:
    assert is_router_props(json.loads((DATA / "props_router.json").read_text()))
    assert not is_router_props({"default_generation_settings": {"n_ctx": 1024}, "total_slots": 1})
    assert parse_models({"data": [{"id": "one", "meta": {"n_ctx": 1024}}]}) == []  # one-model list


def test_sse_statuses_under_both_event_names_with_eviction_and_failure() -> None:
    events = _events("sse_autoload_evict_fail.txt")
    statuses = [(m, v) for m, _, v, _ in events if v is not None]
    # The build names the first loading "model_status" and every later change "status_change".
    assert events[0][:3] == (GEMMA, "model_status", LOADING)
    assert events[1][1] == "status_change"
    assert (GEMMA, LOADED) in statuses
    # --models-max 1: loading SmolLM2 evicts Gemma (unloaded, exit 0 = not a failure).
    evicted = statuses.index((GEMMA, UNLOADED))
    assert statuses[evicted + 1] == (SMOL, LOADING)
    assert (SMOL, LOADED) in statuses
    assert ("*", "models_reload", None, None) in events
    assert ("broken", "status_change", FAILED, "failed (exit 1)") in events  # exit_code 1, no "failed" flag


def test_sse_sleep_and_wake() -> None:
    statuses = [(m, v) for m, _, v, _ in _events("sse_sleep.txt") if v is not None]
    slept = statuses.index((SMOL, SLEEPING))
    assert statuses[slept + 1 :][:3] == [(SMOL, LOADING), (SMOL, LOADING), (SMOL, LOADED)]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("not json", None),
        ('{"event": "model_status"}', None),
        ('{"model": "m", "event": "download_progress", "data": {}}', ("m", "download_progress", None)),
    ],
)
def test_odd_events_are_skipped_or_kept_without_status(
    data: str, expected: tuple[str, str, None] | None
) -> None:
    event = parse_event(data)
    assert (None if event is None else (event.model, event.event, event.status)) == expected


def test_status_parsing_accepts_both_shapes_and_rejects_junk() -> None:
    assert parse_status({"value": "unloaded", "exit_code": 0}) == RouterStatus(UNLOADED)
    assert parse_status({"status": "unloaded", "exit_code": 137}) == RouterStatus(FAILED, 137)
    loading = parse_status({"status": "loading", "progress": {"value": 0.5}})
    assert loading == RouterStatus(LOADING, None, 0.5)
    assert parse_status({"value": ""}) is None and parse_status("loaded") is None
