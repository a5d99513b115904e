"""The gateway driven by clients nobody here wrote — the official `openai` SDK, LiteLLM, curl —
and by httpx speaking Ollama's API, against REAL llama-servers through the engine."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import openai
import pytest
from tests.integration.test_gateway_common import (
    MODEL,
    TOKEN,
    Running,
    serving,
    settings_for,
    token_env,  # noqa: F401  (autouse fixture)
)
from tests.support.llama import LlamaServer

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before LiteLLM is imported: no fetch

SMALL, LARGE = f"small/{MODEL}", f"large/{MODEL}"
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture
async def gw(tmp_path: Path, llama_small: LlamaServer, llama_large: LlamaServer) -> AsyncIterator[Running]:
    settings = settings_for(
        {"small": llama_small.url, "large": llama_large.url},
        routing={"default_model": SMALL, "fallback_chain": [SMALL, LARGE]},
    )
    async with serving(tmp_path, settings) as running:
        yield running


def sdk(gw: Running, api_key: str = TOKEN) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gw.url + "/v1", api_key=api_key, max_retries=0, timeout=60)


async def test_openai_sdk_lists_real_and_virtual_models(gw: Running) -> None:
    ids = [m.id async for m in sdk(gw).models.list()]
    assert ids == ["auto", "chain:default", LARGE, SMALL]


async def test_openai_sdk_non_stream_says_who_answered(gw: Running) -> None:
    raw = await sdk(gw).chat.completions.with_raw_response.create(
        model="chain:default", messages=QUESTION, max_tokens=8, temperature=0
    )
    assert raw.headers["x-steward-model"] == SMALL and raw.headers["x-steward-attempts"] == "1"
    completion = raw.parse()
    assert (completion.choices[0].message.content or "").strip()
    assert completion.model == SMALL and completion.choices[0].finish_reason in ("stop", "length")
    assert completion.usage is not None and 0 < completion.usage.completion_tokens <= 8
    steward = (completion.model_extra or {})["steward"]
    assert steward["model"] == SMALL and steward["chain"][0]["outcome"] == "answered"


async def test_openai_sdk_stream_with_usage(gw: Running) -> None:
    stream = await sdk(gw).chat.completions.create(
        model="auto",
        messages=QUESTION,
        max_tokens=8,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    assert stream.response.headers["x-steward-model"] in (SMALL, LARGE)
    assert stream.response.headers["content-type"].startswith("text/event-stream")
    chunks = [chunk async for chunk in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finals) == 1 and (finals[0].model_extra or {})["steward"]["attempts"] == 1
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert 0 < chunks[-1].usage.completion_tokens <= 8
    assert len({c.id for c in chunks}) == 1


async def test_openai_sdk_errors_are_typed(gw: Running) -> None:
    with pytest.raises(openai.AuthenticationError):
        await sdk(gw, api_key="stw-wrong").models.list()
    with pytest.raises(openai.NotFoundError) as missing:
        await sdk(gw).chat.completions.create(model="no/such-model", messages=QUESTION)
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        await sdk(gw).chat.completions.create(model="auto", messages=QUESTION, max_tokens=-1)
    assert bad.value.param == "max_tokens"


async def test_litellm_as_a_client(gw: Running) -> None:
    import litellm

    litellm.telemetry = False
    common = {"api_base": gw.url + "/v1", "api_key": TOKEN, "max_tokens": 8, "temperature": 0}
    reply = await litellm.acompletion(model="openai/chain:default", messages=QUESTION, **common)
    assert reply.choices[0].message.content.strip()
    stream = await litellm.acompletion(model="openai/auto", messages=QUESTION, stream=True, **common)
    text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
    assert text.strip()


async def test_curl_one_request(gw: Running) -> None:
    body = json.dumps({"model": SMALL, "messages": QUESTION, "max_tokens": 8, "temperature": 0})
    command = [
        "curl", "-sS", "-D", "-", gw.url + "/v1/chat/completions",
        "-H", f"Authorization: Bearer {TOKEN}", "-H", "Content-Type: application/json", "-d", body,
    ]  # fmt: skip
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    head, _, payload = done.stdout.partition("\n\n")  # text mode: CRLF read as LF
    assert head.startswith("HTTP/1.1 200") and f"x-steward-model: {SMALL}" in head
    assert json.loads(payload)["choices"][0]["message"]["content"].strip()


async def test_ollama_chat_streams_ndjson_and_answers_in_one_object(gw: Running) -> None:
    body = {"model": "chain:default", "messages": QUESTION, "options": {"num_predict": 8, "temperature": 0}}
    async with gw.client() as client, client.stream("POST", "/api/chat", json=body) as response:
        assert response.status_code == 200 and response.headers["x-steward-model"] == SMALL
        assert response.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) async for line in response.aiter_lines() if line]
    assert all(not line["done"] for line in lines[:-1]) and lines[-1]["done"] is True
    assert "".join(line["message"]["content"] for line in lines).strip()
    last = lines[-1]
    assert last["done_reason"] in ("stop", "length") and 0 < last["eval_count"] <= 8
    assert last["prompt_eval_count"] > 0 and last["total_duration"] > last["eval_duration"] > 0
    assert last["created_at"].endswith("Z") and last["model"] == SMALL

    async with gw.client() as client:
        one = await client.post("/api/chat", json={**body, "model": MODEL, "stream": False})
    assert one.status_code == 200 and one.headers["x-steward-model"] == SMALL, "a bare model name works"
    answer = one.json()
    assert answer["done"] is True and answer["message"]["content"].strip()
    assert answer["steward"]["chain"][-1]["outcome"] == "answered"


async def test_ollama_listing_routes(gw: Running) -> None:
    async with gw.client() as client:
        tags = (await client.get("/api/tags")).json()["models"]
        version = (await client.get("/api/version")).json()
        ps = (await client.get("/api/ps")).json()["models"]
        root = await client.get("/", headers={"authorization": ""})
    assert [t["name"] for t in tags] == ["auto", "chain:default", LARGE, SMALL]
    assert tags[3]["details"]["format"] == "gguf" and tags[3]["size"] > 0
    assert version["version"] and version["steward"]
    assert {m["name"] for m in ps} == {SMALL, LARGE} and all(m["context_length"] for m in ps)
    assert root.status_code == 200 and root.text == "Steward is running", "liveness needs no token"


async def test_the_request_shows_in_the_recent_gateway_requests(gw: Running) -> None:
    async with gw.client(headers={"user-agent": "editor-plugin/1.2"}) as client:
        reply = await client.post("/v1/chat/completions", json={"messages": QUESTION, "max_tokens": 4})
    assert reply.status_code == 200
    rows = gw.service.recent_gateway.rows()
    assert rows and rows[0].client == "editor-plugin/1.2" and rows[0].source == "gateway"
    assert rows[0].answered_by == SMALL


async def test_an_unknown_route_and_method_are_json_errors(gw: Running) -> None:
    async with gw.client() as client:
        missing = await client.get("/v2/nothing")
        wrong = await client.get("/v1/chat/completions")
        ollama = await client.get("/api/nothing")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
    assert wrong.status_code == 405 and "error" in wrong.json()
    assert ollama.status_code == 404 and isinstance(ollama.json()["error"], str)


async def test_a_client_going_away_mid_stream_frees_the_model(gw: Running) -> None:
    body = {
        "messages": [{"role": "user", "content": "Tell a long story."}],
        "max_tokens": 200,
        "stream": True,
    }
    async with gw.client() as client, client.stream("POST", "/v1/chat/completions", json=body) as response:
        async for line in response.aiter_lines():
            if '"content":"' in line and '"content":""' not in line:
                break  # one token, then hang up
    for _ in range(100):
        if all(m.in_flight == 0 for m in gw.service.snapshot().models):
            break
        await asyncio.sleep(0.05)
    assert all(m.in_flight == 0 for m in gw.service.snapshot().models), "the engine's attempt was cancelled"
    assert gw.service.snapshot().active_requests == 0
    async with gw.client() as client:
        again = await client.post("/v1/chat/completions", json={"messages": QUESTION, "max_tokens": 4})
    assert again.status_code == 200


async def test_the_pure_python_h11_protocol_streams_the_same(
    tmp_path: Path, llama_small: LlamaServer
) -> None:
    """uvicorn's h11 protocol is the fallback when httptools is not installed."""
    settings = settings_for({"small": llama_small.url}, routing={"default_model": f"small/{MODEL}"})
    async with serving(tmp_path, settings, http="h11") as running:
        assert running.gateway.http.__name__ == "H11Protocol"
        stream = await sdk(running).chat.completions.create(
            model="auto", messages=QUESTION, max_tokens=4, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip()
    assert chunks[-1].usage is not None


async def test_a_client_giving_up_on_a_whole_answer_stops_the_engine(gw: Running) -> None:
    # At temperature 0 SmolLM2 writes all 400 tokens (~3 s here); sampled, it sometimes ends in
    # 0.2 s and the client got its answer before giving up (CI failed on that once).
    body = {
        "messages": [{"role": "user", "content": "Tell a very long story."}],
        "max_tokens": 400,
        "temperature": 0,
    }
    async with gw.client(timeout=httpx.Timeout(60, read=0.3)) as client:
        with pytest.raises(httpx.ReadTimeout):  # 400 tokens take seconds; the client leaves first
            await client.post("/v1/chat/completions", json=body)
    for _ in range(100):
        if gw.service.snapshot().active_requests == 0:
            break
        await asyncio.sleep(0.05)
    assert gw.service.snapshot().active_requests == 0, "the engine stopped when the client left"
    assert all(m.in_flight == 0 for m in gw.service.snapshot().models)
