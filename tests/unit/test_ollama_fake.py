"""The Ollama fake speaks the API shapes of REFERENCE.md and its injected behaviours do what they say."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.support.ollama_fake import FakeModel, OllamaFake, count_prompt_tokens, parse_keep_alive

REPLY = "The capital of France is Paris."
UNKNOWN_MODEL = {"error": 'model "nope:1b" not found, try pulling it first'}


@pytest.fixture
def fake() -> Iterator[OllamaFake]:
    models = [
        FakeModel("llama3.2:1b", reply=REPLY, context_length=131072, size_vram=1_000_000),
        FakeModel("qwen2:0.5b", architecture="qwen2", family="qwen2", context_length=32, loaded=True),
    ]
    with OllamaFake(models) as server:
        yield server


@pytest.fixture
def client(fake: OllamaFake) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, timeout=5) as c:
        yield c


def _chat(model: str = "llama3.2:1b", content: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


def _stream_lines(client: httpx.Client, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    with client.stream("POST", path, json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-ndjson"
        return [json.loads(line) for line in response.iter_lines() if line]


def _ps(client: httpx.Client) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in client.get("/api/ps").json()["models"]}


def test_root_head_and_version(client: httpx.Client) -> None:
    assert client.get("/").text == "Ollama is running"
    assert client.head("/").status_code == 200
    assert client.get("/api/version").json() == {"version": "0.6.5"}


def test_tags_lists_installed_models_with_details(client: httpx.Client) -> None:
    models = client.get("/api/tags").json()["models"]
    assert [m["name"] for m in models] == ["llama3.2:1b", "qwen2:0.5b"]
    first = models[0]
    assert {"name", "model", "size", "digest", "modified_at", "details"} <= first.keys()
    assert {"parameter_size", "quantization_level", "family", "format"} <= first["details"].keys()
    assert len(first["digest"]) == 64


def test_ps_lists_only_loaded_models_with_vram_expiry_and_window(client: httpx.Client) -> None:
    assert set(_ps(client)) == {"qwen2:0.5b"}
    _stream_lines(client, "/api/chat", _chat(options={"num_ctx": 4096}))
    entry = _ps(client)["llama3.2:1b"]
    assert entry["context_length"] == 4096
    assert entry["size_vram"] == 1_000_000
    assert entry["size"] > 0
    assert entry["expires_at"]


def test_show_reports_model_info_by_architecture(client: httpx.Client) -> None:
    shown = client.post("/api/show", json={"model": "qwen2:0.5b"}).json()
    info = shown["model_info"]
    assert info["general.architecture"] == "qwen2"
    assert info["qwen2.context_length"] == 32
    for key in ("block_count", "attention.head_count", "attention.head_count_kv", "embedding_length"):
        assert isinstance(info[f"qwen2.{key}"], int)
    assert info["general.parameter_count"] > 0
    assert shown["details"]["family"] == "qwen2"
    assert isinstance(shown["parameters"], str)
    missing = client.post("/api/show", json={"model": "nope:1b"})
    assert missing.status_code == 404
    assert "not found" in missing.json()["error"]


def test_chat_streams_ndjson_word_by_word_then_a_final_summary(client: httpx.Client) -> None:
    lines = _stream_lines(client, "/api/chat", _chat())
    *chunks, final = lines
    for line in chunks:
        assert line["done"] is False
        assert line["model"] == "llama3.2:1b"
        assert line["created_at"].endswith("Z")
        assert line["message"]["role"] == "assistant"
    assert "".join(c["message"]["content"] for c in chunks) == REPLY
    assert len(chunks) == len(REPLY.split())
    assert final["done"] is True
    assert final["done_reason"] == "stop"
    assert final["eval_count"] == len(chunks)
    assert final["prompt_eval_count"] == count_prompt_tokens([{"content": "hi"}])
    for key in ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration"):
        assert isinstance(final[key], int)


def test_chat_without_stream_answers_one_json_object(client: httpx.Client) -> None:
    body = client.post("/api/chat", json=_chat(stream=False)).json()
    assert body["message"] == {"role": "assistant", "content": REPLY}
    assert body["done"] is True
    assert body["eval_count"] == len(REPLY.split())


def test_num_predict_stops_with_done_reason_length(client: httpx.Client) -> None:
    *chunks, final = _stream_lines(client, "/api/chat", _chat(options={"num_predict": 2}))
    assert len(chunks) == 2
    assert final["done_reason"] == "length"


def test_unknown_model_is_404_with_ollamas_wording(client: httpx.Client) -> None:
    response = client.post("/api/chat", json=_chat("nope:1b"))
    assert response.status_code == 404
    assert response.json() == UNKNOWN_MODEL


def test_busy_is_503_for_the_given_number_of_requests(fake: OllamaFake, client: httpx.Client) -> None:
    fake.busy(times=1)
    response = client.post("/api/chat", json=_chat())
    assert response.status_code == 503
    assert response.json() == {"error": "server busy, please try again. maximum pending requests exceeded"}
    assert client.post("/api/chat", json=_chat(stream=False)).status_code == 200


def test_behaviour_can_target_one_model(fake: OllamaFake, client: httpx.Client) -> None:
    fake.busy(model="qwen2:0.5b")
    assert client.post("/api/chat", json=_chat("qwen2:0.5b")).status_code == 503
    assert client.post("/api/chat", json=_chat(stream=False)).status_code == 200


def test_out_of_memory_is_500_with_the_memory_phrase(fake: OllamaFake, client: httpx.Client) -> None:
    fake.out_of_memory(required_gib=9.6, available_gib=3.1)
    response = client.post("/api/chat", json=_chat())
    assert response.status_code == 500
    assert (
        response.json()["error"] == "model requires more system memory (9.6 GiB) than is available (3.1 GiB)"
    )


def test_error_in_stream_is_a_200_carrying_an_error_line(fake: OllamaFake, client: httpx.Client) -> None:
    fake.error_in_stream("boom", after_n_chunks=2)
    lines = _stream_lines(client, "/api/chat", _chat())
    assert [line.get("done") for line in lines] == [False, False, None]
    assert lines[-1] == {"error": "boom"}


def test_malformed_puts_a_non_json_line_mid_stream(fake: OllamaFake, client: httpx.Client) -> None:
    fake.malformed(after_n_chunks=1)
    with client.stream("POST", "/api/chat", json=_chat()) as response:
        raw = [line for line in response.iter_lines() if line]
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw[1])
    assert json.loads(raw[-1])["done"] is True


def test_degenerate_repeats_the_same_chunk_100_times(fake: OllamaFake, client: httpx.Client) -> None:
    fake.degenerate(chunk=" again")
    *chunks, final = _stream_lines(client, "/api/chat", _chat())
    assert [c["message"]["content"] for c in chunks] == [" again"] * 100
    assert final["eval_count"] == 100


def test_hang_before_first_token_sends_nothing_until_cleared(fake: OllamaFake, client: httpx.Client) -> None:
    fake.hang_before_first_token()
    with pytest.raises(httpx.ReadTimeout):
        client.post("/api/chat", json=_chat(), timeout=0.3)
    fake.clear_behaviours()
    assert client.post("/api/chat", json=_chat(stream=False)).json()["message"]["content"] == REPLY


def test_cut_mid_stream_closes_the_socket_after_n_chunks(fake: OllamaFake, client: httpx.Client) -> None:
    fake.cut_mid_stream(after_n_chunks=2)
    received: list[str] = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", "/api/chat", json=_chat()) as response,
    ):
        received.extend(line for line in response.iter_lines() if line)
    assert len(received) == 2


def test_loading_delays_the_answer_and_reports_load_duration(fake: OllamaFake, client: httpx.Client) -> None:
    fake.loading(0.3)
    started = time.perf_counter()
    body = client.post("/api/chat", json=_chat(stream=False)).json()
    assert time.perf_counter() - started >= 0.29
    assert body["load_duration"] >= 290_000_000


def test_per_token_delay_paces_the_stream(fake: OllamaFake, client: httpx.Client) -> None:
    fake.add_model(FakeModel("slow:1b", reply="a b c d e", token_delay_s=0.04))
    started = time.perf_counter()
    _stream_lines(client, "/api/chat", _chat("slow:1b"))
    assert time.perf_counter() - started >= 0.19


def test_count_prompt_tokens_is_words_plus_four_per_message() -> None:
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "one two three"}]
    assert count_prompt_tokens(messages) == (2 + 4) + (3 + 4)
    assert OllamaFake.count_prompt_tokens([{"role": "user", "content": ""}]) == 4


def test_overlong_chat_is_silently_truncated_and_reports_a_short_count(client: httpx.Client) -> None:
    system = {"role": "system", "content": "you are terse"}
    turns = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": " ".join(["w"] * 20)} for i in range(5)
    ]
    messages = [system, *turns]
    body = client.post(
        "/api/chat",
        json={"model": "llama3.2:1b", "messages": messages, "stream": False, "options": {"num_ctx": 64}},
    )
    assert body.status_code == 200
    # 7 (system) + 24 + 24 = 55 fits in 64; a third turn would make 79: the three oldest turns are dropped.
    assert body.json()["prompt_eval_count"] == count_prompt_tokens([system, *turns[-2:]]) == 55
    assert count_prompt_tokens(messages) == 127


def test_window_is_capped_by_the_trained_context_length(client: httpx.Client) -> None:
    long = " ".join(["w"] * 100)
    body = client.post(
        "/api/chat", json=_chat("qwen2:0.5b", long, stream=False, options={"num_ctx": 4096})
    ).json()
    assert body["prompt_eval_count"] == 32  # even the last message alone is cut to the 32-token window
    assert _ps(client)["qwen2:0.5b"]["context_length"] == 32


def test_default_window_is_2048(client: httpx.Client) -> None:
    client.post("/api/chat", json=_chat(stream=False))
    assert _ps(client)["llama3.2:1b"]["context_length"] == 2048


def test_num_ctx_parameter_of_the_model_sets_its_default_window(
    fake: OllamaFake, client: httpx.Client
) -> None:
    fake.add_model(FakeModel("tuned:1b", parameters='num_ctx                        4096\nstop "<eot>"'))
    client.post("/api/chat", json=_chat("tuned:1b", stream=False))
    assert _ps(client)["tuned:1b"]["context_length"] == 4096


def test_truncate_off_refuses_an_overlong_prompt_with_400(fake: OllamaFake, client: httpx.Client) -> None:
    fake.truncate = False
    response = client.post("/api/chat", json=_chat(content=" ".join(["w"] * 3000), stream=False))
    assert response.status_code == 400
    assert "the prompt is longer than the context length" in response.json()["error"]


def test_empty_chat_loads_and_keep_alive_zero_unloads(client: httpx.Client) -> None:
    loaded = client.post("/api/chat", json={"model": "llama3.2:1b", "messages": []}).json()
    assert loaded["done_reason"] == "load"
    assert loaded["done"] is True
    assert "llama3.2:1b" in _ps(client)
    unloaded = client.post("/api/chat", json={"model": "llama3.2:1b", "messages": [], "keep_alive": 0}).json()
    assert unloaded["done_reason"] == "unload"
    assert unloaded["message"] == {"role": "assistant", "content": ""}
    assert "llama3.2:1b" not in _ps(client)


def test_chat_with_keep_alive_zero_answers_then_unloads(client: httpx.Client) -> None:
    body = client.post("/api/chat", json=_chat(stream=False, keep_alive="0s")).json()
    assert body["message"]["content"] == REPLY
    assert "llama3.2:1b" not in _ps(client)


def test_generate_loads_unloads_and_streams_responses(client: httpx.Client) -> None:
    assert client.post("/api/generate", json={"model": "llama3.2:1b"}).json()["done_reason"] == "load"
    *chunks, final = _stream_lines(client, "/api/generate", {"model": "llama3.2:1b", "prompt": "capital?"})
    assert "".join(c["response"] for c in chunks) == REPLY
    assert final["done"] is True
    unload = client.post("/api/generate", json={"model": "llama3.2:1b", "keep_alive": 0}).json()
    assert unload["done_reason"] == "unload"
    assert client.post("/api/generate", json={"model": "nope:1b"}).json() == UNKNOWN_MODEL


def test_requests_log_keeps_received_bodies(fake: OllamaFake, client: httpx.Client) -> None:
    body = _chat(stream=False, options={"num_ctx": 1024})
    client.post("/api/chat", json=body)
    assert fake.bodies("/api/chat") == [body]
    assert [(r.method, r.path) for r in fake.requests] == [("POST", "/api/chat")]


def test_client_abandoning_a_stream_is_noticed(fake: OllamaFake, client: httpx.Client) -> None:
    fake.add_model(FakeModel("slow:1b", reply=" ".join(["w"] * 50), token_delay_s=0.01))
    with client.stream("POST", "/api/chat", json=_chat("slow:1b")) as response:
        next(response.iter_lines())
    deadline = time.monotonic() + 2
    while fake.streams_aborted == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake.streams_aborted == 1


def test_parse_keep_alive_accepts_ollama_durations() -> None:
    assert parse_keep_alive(None) == 300
    assert parse_keep_alive(0) == 0
    assert parse_keep_alive("5m") == 300
    assert parse_keep_alive("-1") == -1
    assert parse_keep_alive("250ms") == 0.25
    with pytest.raises(ValueError):
        parse_keep_alive("soon")
