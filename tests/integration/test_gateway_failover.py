"""Failover as a gateway client sees it, against REAL llama-servers: a primary killed mid-stream is
continued on the fallback as ONE answer (no truncation, no second answer from scratch), or ends
with an error event in `midstream = "error"`; a quarantined primary is answered for by the
fallback and the headers say so; full queues are a 429, no model at all a 503 with the chain."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import openai
import pytest
from tests.integration.test_gateway_common import (
    MODEL,
    TOKEN,
    Running,
    delta_text,
    serving,
    settings_for,
    sse_events,
    token_env,  # noqa: F401  (autouse fixture)
)
from tests.support.fault_proxy import FaultProxy, LimitData, Timeout
from tests.support.llama import LlamaServer, free_port

from steward.engine.events import EngineEvent, RequestStarted

STORY = [{"role": "user", "content": "Write a long story about a dragon who learns to bake bread."}]
PRIMARY, FALLBACK = f"primary/{MODEL}", f"fallback/{MODEL}"


def chain_settings(primary: str, fallback: str, **groups: object) -> object:
    return settings_for(
        {"primary": primary, "fallback": fallback},
        routing={"default_model": PRIMARY, "fallback_chain": [PRIMARY, FALLBACK]},
        context={"max_reply_tokens": 24},
        **groups,  # type: ignore[arg-type]
    )


async def stream_and_cut(gw: Running, cut: Callable[[], None], after: int = 3) -> tuple[str, list[str], str]:
    """Stream STORY; call `cut` after `after` content deltas. Returns (status+model, comments, raw body)."""
    body = {"messages": STORY, "stream": True, "temperature": 0, "stream_options": {"include_usage": True}}
    raw, seen = [], 0
    async with gw.client() as client, client.stream("POST", "/v1/chat/completions", json=body) as response:
        head = f"{response.status_code} {response.headers.get('x-steward-model')}"
        async for line in response.aiter_lines():
            raw.append(line)
            if line.startswith("data: {") and delta_text([json.loads(line[6:])]):
                seen += 1
                if seen == after:
                    cut()
    _, comments, _ = sse_events("\n".join(raw))
    return head, comments, "\n".join(raw)


def split_at_comment(raw: str) -> tuple[str, str]:
    """The text streamed before the continuation comment, and after it."""
    before, _, after = raw.partition("\n: steward:")
    return delta_text(sse_events(before)[0]), delta_text(sse_events(after)[0])


async def test_primary_killed_mid_stream_is_continued_on_the_fallback(
    tmp_path: Path, llama_small: LlamaServer, llama_factory: Callable[..., LlamaServer]
) -> None:
    primary = llama_factory()
    async with serving(tmp_path, chain_settings(primary.url, llama_small.url)) as gw:  # type: ignore[arg-type]
        assert primary.process is not None
        head, comments, raw = await stream_and_cut(gw, primary.process.kill)
    assert head == f"200 {PRIMARY}", "the stream started on the primary; failover after that is visible"
    assert len(comments) == 1 and comments[0].startswith(f"steward: {PRIMARY} failed (")
    assert comments[0].endswith(f"; continued on {FALLBACK}")
    chunks, _, done = sse_events(raw)
    assert done and raw.rstrip().endswith("data: [DONE]")
    final = next(c for c in chunks if c.get("choices") and c["choices"][0]["finish_reason"])
    continued = final["steward"]["continued"]
    assert [(c["from"], c["to"]) for c in continued] == [(PRIMARY, FALLBACK)]
    assert final["steward"]["chain"][0]["outcome"] == "failed_midstream"
    assert continued[0]["kind"] in ("connection_lost", "connection_refused", "server_error")
    before, after = split_at_comment(raw)
    assert before and after.strip(), "text before the cut and a continuation after it"
    assert continued[0]["after_chars"] == len(before)
    assert not after.startswith(before), "the fallback's echo of the partial answer is not sent again"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0


async def test_the_openai_sdk_reads_a_continued_stream_as_one_answer(
    tmp_path: Path, llama_small: LlamaServer, llama_large: LlamaServer
) -> None:
    with FaultProxy("127.0.0.1", llama_small.port) as proxy:
        async with serving(tmp_path, chain_settings(proxy.url, llama_large.url)) as gw:  # type: ignore[arg-type]
            client = openai.AsyncOpenAI(base_url=gw.url + "/v1", api_key=TOKEN, max_retries=0)
            stream = await client.chat.completions.create(
                model="chain:default",
                messages=STORY,
                temperature=0,
                stream=True,  # type: ignore[arg-type]
            )
            assert stream.response.headers["x-steward-model"] == PRIMARY
            pieces, finals = [], []
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    pieces.append(chunk.choices[0].delta.content)
                    if len(pieces) == 3:
                        proxy.set_fault(LimitData(0))  # the primary's connection dies mid-answer
                if chunk.choices and chunk.choices[0].finish_reason:
                    finals.append(chunk)
    assert len(finals) == 1 and len(pieces) > 3
    steward = (finals[0].model_extra or {})["steward"]
    assert steward["model"] == FALLBACK and steward["continued"][0]["kind"] == "connection_lost"
    assert finals[0].model == FALLBACK
    partial = "".join(pieces[:3])
    assert not "".join(pieces[3:]).startswith(partial)


async def test_midstream_error_mode_ends_the_stream_with_an_error_event(
    tmp_path: Path, llama_small: LlamaServer, llama_large: LlamaServer
) -> None:
    with FaultProxy("127.0.0.1", llama_small.port) as proxy:
        settings = chain_settings(proxy.url, llama_large.url, gateway={"midstream": "error"})
        async with serving(tmp_path, settings) as gw:  # type: ignore[arg-type]
            head, comments, raw = await stream_and_cut(gw, lambda: proxy.set_fault(LimitData(0)))
            client = openai.AsyncOpenAI(base_url=gw.url + "/v1", api_key=TOKEN, max_retries=0)
            proxy.clear()
            stream = await client.chat.completions.create(
                model="chain:default",
                messages=STORY,
                temperature=0,
                stream=True,  # type: ignore[arg-type]
            )
            seen = 0
            with pytest.raises(openai.APIError, match="connection_lost"):
                async for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        seen += 1
                        if seen == 2:
                            proxy.set_fault(LimitData(0))
    assert head == f"200 {PRIMARY}" and comments == []
    chunks, _, done = sse_events(raw)
    error = chunks[-1]["error"]
    assert error["code"] == "midstream_failure" and "connection_lost" in error["message"]
    assert done and not any(c.get("choices") and c["choices"][0]["finish_reason"] for c in chunks)
    assert delta_text(chunks), "the partial answer stays, marked as broken by the error"


async def test_ollama_stream_is_continued_too(
    tmp_path: Path, llama_small: LlamaServer, llama_large: LlamaServer
) -> None:
    with FaultProxy("127.0.0.1", llama_small.port) as proxy:
        async with serving(tmp_path, chain_settings(proxy.url, llama_large.url)) as gw:  # type: ignore[arg-type]
            lines = []
            body = {"model": PRIMARY, "messages": STORY, "options": {"temperature": 0}}
            async with gw.client() as client, client.stream("POST", "/api/chat", json=body) as response:
                async for line in response.aiter_lines():
                    lines.append(json.loads(line))
                    if len(lines) == 3:
                        proxy.set_fault(LimitData(0))
    notes = [line["steward"]["continued"] for line in lines if not line["done"] and "steward" in line]
    assert notes and notes[0]["from"] == PRIMARY and notes[0]["to"] == FALLBACK
    assert lines[-1]["done"] is True and lines[-1]["model"] == FALLBACK
    assert lines[-1]["steward"]["continued"][0]["after_chars"] > 0


async def test_a_quarantined_primary_is_answered_for_by_the_fallback(
    tmp_path: Path, llama_small: LlamaServer, llama_large: LlamaServer
) -> None:
    started: list[RequestStarted] = []

    def listen(event: EngineEvent) -> None:
        if isinstance(event, RequestStarted):
            started.append(event)

    async with serving(tmp_path, chain_settings(llama_small.url, llama_large.url)) as gw:  # type: ignore[arg-type]
        gw.service.subscribe(listen)
        gw.service.quarantine(PRIMARY, "testing the gateway")
        body = {"model": PRIMARY, "messages": STORY, "max_tokens": 4}
        async with gw.client() as client:
            one = await client.post("/v1/chat/completions", json=body)
            streamed = await client.post("/v1/chat/completions", json={**body, "stream": True})
            raced = await client.post(
                "/v1/chat/completions", json=body, headers={"x-steward-strategy": "race"}
            )
            alone = await client.post(
                "/v1/chat/completions", json=body, headers={"x-steward-fallback": "off"}
            )
            health = await client.get("/health")
    assert one.status_code == 200 and one.headers["x-steward-model"] == FALLBACK
    chain = one.json()["steward"]["chain"]
    assert (chain[0]["model"], chain[0]["outcome"], chain[0]["kind"]) == (PRIMARY, "skipped", "quarantined")
    assert chain[-1]["model"] == FALLBACK and chain[-1]["outcome"] == "answered"
    assert streamed.status_code == 200 and streamed.headers["x-steward-model"] == FALLBACK
    assert raced.status_code == 200 and started[2].strategy == "race"
    assert alone.status_code == 503 and alone.json()["steward"]["chain"][0]["kind"] == "quarantined"
    assert health.status_code == 200
    assert health.json()["ready"] == [FALLBACK] and "quarantined" in health.json()["not_ready"][PRIMARY]


async def test_every_queue_full_is_429_with_retry_after(
    tmp_path: Path, llama_factory: Callable[..., LlamaServer]
) -> None:
    one_slot = llama_factory(parallel=1)
    settings = settings_for(
        {"solo": one_slot.url},
        routing={"default_model": f"solo/{MODEL}"},
        bulkhead={"queue_limit": 0},
        context={"max_reply_tokens": 200},
    )
    async with serving(tmp_path, settings) as gw:
        body = {"messages": STORY, "stream": True, "temperature": 0}  # 200 tokens: busy for seconds
        async with gw.client() as client, client.stream("POST", "/v1/chat/completions", json=body) as busy:
            assert busy.status_code == 200
            async with gw.client() as other:
                refused = await other.post("/v1/chat/completions", json={"messages": STORY, "max_tokens": 4})
                streamed = await other.post("/v1/chat/completions", json={"messages": STORY, "stream": True})
                ollama = await other.post("/api/chat", json={"messages": STORY})
    assert refused.status_code == 429 and refused.headers["retry-after"].isdigit()
    assert refused.json()["error"]["code"] == "server_busy"
    assert refused.json()["steward"]["chain"][0]["kind"] == "server_busy"
    assert streamed.status_code == 429, "a stream that cannot start is an HTTP error, not a 200"
    assert ollama.status_code == 429 and "error" in ollama.json()


async def test_no_model_that_can_answer_is_503_with_the_attempt_chain(tmp_path: Path) -> None:
    dead = f"dead/{MODEL}"
    settings = settings_for(
        {"dead": f"http://127.0.0.1:{free_port()}"}, routing={"default_model": dead, "fallback_chain": [dead]}
    )
    async with serving(tmp_path, settings) as gw, gw.client() as client:
        plain = await client.post("/v1/chat/completions", json={"messages": STORY})
        streamed = await client.post("/v1/chat/completions", json={"messages": STORY, "stream": True})
        health = await client.get("/health")
    assert plain.status_code == 503 and plain.json()["error"]["type"] == "service_unavailable"
    step = plain.json()["steward"]["chain"][0]
    assert (step["model"], step["outcome"], step["kind"]) == (dead, "failed", "connection_refused")
    assert step["elapsed_s"] is not None and plain.headers["x-steward-attempts"] == "1"
    assert streamed.status_code == 503
    assert health.status_code == 503 and health.json()["ready"] == []


async def test_gateway_stop_ends_open_streams(tmp_path: Path, llama_small: LlamaServer) -> None:
    settings = settings_for({"small": llama_small.url}, context={"max_reply_tokens": 600})
    async with serving(tmp_path, settings) as gw:
        body = {"messages": STORY, "stream": True}
        lines: list[str] = []
        async with (
            gw.client() as client,
            client.stream("POST", "/v1/chat/completions", json=body) as response,
        ):
            assert response.status_code == 200
            await gw.gateway.stop()  # streams get a short grace, then are cut
            try:
                async for line in response.aiter_lines():
                    lines.append(line)
            except httpx.HTTPError:
                pass
        assert not gw.gateway.running and "data: [DONE]" not in lines
        await asyncio.sleep(0.1)
        assert gw.service.snapshot().active_requests == 0, "the engine's request was cancelled"


async def test_a_client_giving_up_before_the_first_token_stops_the_hung_attempt(
    tmp_path: Path, llama_small: LlamaServer
) -> None:
    with FaultProxy("127.0.0.1", llama_small.port) as proxy:
        settings = settings_for({"hung": proxy.url}, routing={"default_model": f"hung/{MODEL}"})
        async with serving(tmp_path, settings) as gw:
            proxy.set_fault(Timeout())  # the model accepts the request and never answers
            body = {"messages": STORY, "stream": True}
            async with gw.client(timeout=httpx.Timeout(60, read=0.5)) as client:
                with pytest.raises(httpx.ReadTimeout):  # no first token: no response has started
                    await client.post("/v1/chat/completions", json=body)
            assert await proxy.wait_for_closed_async(1, 5.0), "the hung upstream connection was closed"
            assert gw.service.snapshot().active_requests == 0
