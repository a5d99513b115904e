"""Adapter for any OpenAI-compatible server (LM Studio, vLLM, LocalAI, Jan, ...).

Streams `/v1/chat/completions` as SSE with `stream_options.include_usage`, so
the final chunk carries token usage (and llama.cpp's `timings` when present).
The stream runs on `HttpConnection.stream_post` (aiohttp, see `stream_http`).
Closing the async generator leaves its `async with` block, which closes the
HTTP response and with it the connection: the server notices the disconnect
and stops generating.
"""

from __future__ import annotations

import codecs
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass

import httpx

from steward.backends.classify import error_in_payload, parse_json_line, short, truncated_stream
from steward.backends.http import HttpConnection
from steward.backends.stream_http import StaleConnection
from steward.backends.streams import SseDecoder, SseEvent
from steward.engine.clock import Clock, SystemClock
from steward.engine.failures import BackendError, FailureKind
from steward.engine.types import (
    ChatMessage,
    GenerationParams,
    ModelInfo,
    ProbeResult,
    ServerState,
    StreamChunk,
    Timings,
    Usage,
)

_SSE_HEADERS = {"Accept": "text/event-stream", "Cache-Control": "no-store"}


def as_int(value: object) -> int | None:
    """`value` if it is a real integer (not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_float(value: object) -> float | None:
    """`value` as a float if it is a number (not a bool), else None."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def as_mapping(value: object) -> Mapping[str, object]:
    """`value` if it is a JSON object, else an empty mapping (tolerant field access)."""
    if type(value) is dict:  # what json.loads gives: skip the slower ABC check (per token)
        return value
    return value if isinstance(value, Mapping) else {}


def as_list(value: object) -> list[object]:
    """`value` if it is a JSON array, else an empty list."""
    return value if isinstance(value, list) else []


def model_from_entry(entry: Mapping[str, object]) -> ModelInfo:
    """A `/v1/models` entry as ModelInfo: vLLM's `max_model_len`, llama.cpp's `meta` block."""
    meta = as_mapping(entry.get("meta"))
    return ModelInfo(
        name=str(entry.get("id", "")),
        loaded_context=as_int(entry.get("max_model_len")) or as_int(meta.get("n_ctx")),
        trained_context=as_int(meta.get("n_ctx_train")),
        parameter_count=as_int(meta.get("n_params")),
        quantization=str(meta["ftype"]) if isinstance(meta.get("ftype"), str) else None,
        size_bytes=as_int(meta.get("size")),
    )


def lmstudio_overlay(info: ModelInfo, entry: Mapping[str, object]) -> ModelInfo:
    """Merge an LM Studio `/api/v0/models` entry (trained and loaded windows, state) into `info`."""
    state = entry.get("state")
    loaded = state == "loaded" if isinstance(state, str) else info.loaded
    quant = entry.get("quantization")
    arch = entry.get("arch")
    return ModelInfo(
        name=info.name,
        loaded_context=as_int(entry.get("loaded_context_length")) or info.loaded_context,
        trained_context=as_int(entry.get("max_context_length")) or info.trained_context,
        parameter_count=info.parameter_count,
        quantization=quant if isinstance(quant, str) else info.quantization,
        family=arch if isinstance(arch, str) else info.family,
        size_bytes=info.size_bytes,
        loaded=loaded,
    )


def timings_from(payload: Mapping[str, object]) -> Timings:
    """llama.cpp's `timings` object (milliseconds) as Timings."""
    return Timings(
        prompt_ms=as_float(payload.get("prompt_ms")),
        predicted_ms=as_float(payload.get("predicted_ms")),
        predicted_per_second=as_float(payload.get("predicted_per_second")),
    )


@dataclass
class _StreamState:
    """What the stream has said so far about how it ends."""

    usage: Usage | None = None
    timings: Timings | None = None
    finish_reason: str | None = None
    done: bool = False  # [DONE] seen

    def final(self) -> StreamChunk:
        return StreamChunk(
            usage=self.usage, timings=self.timings, finish_reason=self.finish_reason, done=True
        )


class OpenAICompatBackend:
    """A generic OpenAI-compatible server. Subclasses refine probing, description and counting."""

    def __init__(
        self,
        server_id: str,
        http: HttpConnection,
        *,
        clock: Clock | None = None,
        health_path: str = "/v1/models",
    ) -> None:
        self._server_id = server_id
        self._http = http
        self._clock: Clock = clock or SystemClock()
        self._health_path = health_path

    @property
    def server_id(self) -> str:
        return self._server_id

    @property
    def kind(self) -> str:
        return "openai"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(server_id={self._server_id!r}, http={self._http!r})"

    async def list_models(self) -> list[ModelInfo]:
        """`/v1/models`, enriched with LM Studio's `/api/v0/models` windows when that endpoint exists."""
        payload = await self._http.request_json("GET", "/v1/models")
        entries = [as_mapping(e) for e in as_list(as_mapping(payload).get("data"))]
        models = [model_from_entry(e) for e in entries if e.get("id")]
        extra = await self._lmstudio_entries()
        return [lmstudio_overlay(m, extra[m.name]) if m.name in extra else m for m in models]

    async def _lmstudio_entries(self) -> dict[str, Mapping[str, object]]:
        """LM Studio's REST model list by id; empty when the server has no such endpoint."""
        try:
            payload = await self._http.request_json("GET", "/api/v0/models", tolerate=(404, 405, 501))
        except BackendError as err:
            if err.status is not None or err.kind is FailureKind.BAD_RESPONSE:
                return {}  # some other server's answer to an unknown path: not LM Studio
            raise
        entries = [as_mapping(e) for e in as_list(as_mapping(payload).get("data"))]
        return {str(e["id"]): e for e in entries if e.get("id")}

    async def describe(self, model: str) -> ModelInfo:
        """The listed entry for `model`; `model_not_found` when the server does not list it."""
        for info in await self.list_models():
            if info.name == model:
                return info
        raise BackendError(FailureKind.MODEL_NOT_FOUND, short(f"model {model!r} is not listed by the server"))

    def chat_body(
        self, model: str, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> dict[str, object]:
        """The JSON body of a streamed chat completion (num_ctx has no OpenAI equivalent)."""
        body: dict[str, object] = {
            "model": model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        optional = {
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "seed": params.seed,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        if params.stop:
            body["stop"] = list(params.stop)
        return body

    async def stream_chat(
        self, model: str, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[StreamChunk]:
        """Stream one answer: text chunks, then one `done` chunk with usage/timings/finish reason."""
        body = self.chat_body(model, messages, params)
        for tries_left in (1, 0):
            started = False
            try:
                async with aclosing(self._stream_once(body)) as once:
                    async for chunk in once:
                        started = True
                        yield chunk
                return
            except StaleConnection as stale:
                # A pooled keep-alive socket the server had just closed: sent again once, on a new
                # connection. A FRESH connection that drops is the server's answer, never re-sent.
                if started or not tries_left:
                    raise self._http.transport_error(stale.error) from stale.error

    async def _stream_once(self, body: Mapping[str, object]) -> AsyncGenerator[StreamChunk, None]:
        try:
            async with self._http.stream_post("/v1/chat/completions", body, _SSE_HEADERS) as response:
                if response.status_code >= 400:
                    raise await self._http.status_error(response)
                if "text/event-stream" not in response.header("content-type"):
                    for chunk in self._whole_body(await response.read()):
                        yield chunk
                    return
                state = _StreamState()
                decoder = SseDecoder()
                text = codecs.getincrementaldecoder("utf-8")("replace")
                # Read to the end even after [DONE]: a fully read answer returns its connection.
                async for piece in response.iter_bytes():
                    for event in decoder.feed(text.decode(piece)):
                        if not state.done and (delta := self._take(event, state)):
                            yield StreamChunk(text=delta)
                for event in decoder.feed(text.decode(b"", final=True)) + decoder.close():
                    if not state.done and (delta := self._take(event, state)):
                        yield StreamChunk(text=delta)
                if not state.done and state.finish_reason is None:
                    raise truncated_stream("[DONE] or a finish_reason")
                yield state.final()  # some servers omit [DONE] after a finish_reason
        except httpx.HTTPError as exc:
            raise self._http.transport_error(exc) from exc

    def _take(self, event: SseEvent, state: _StreamState) -> str:
        """The text delta of one event ("" for [DONE], which ends the answer); state updated;
        the error an event carries is raised."""
        if event.data.strip() == "[DONE]":
            state.done = True
            return ""
        payload = parse_json_line(event.data, "SSE data")
        err = error_in_payload(payload) if event.event in ("message", "error") else None
        if err is None and event.event == "error":
            err = BackendError(FailureKind.BAD_RESPONSE, short(f"error event: {event.data}"))
        if err is not None:
            raise self._http.scrub_error(err)
        return self._absorb(as_mapping(payload), state)

    @staticmethod
    def _absorb(payload: Mapping[str, object], state: _StreamState) -> str:
        """Update `state` from one chunk object; return its text delta."""
        usage = as_mapping(payload.get("usage"))
        if usage:
            state.usage = Usage(
                prompt_tokens=as_int(usage.get("prompt_tokens")),
                completion_tokens=as_int(usage.get("completion_tokens")),
            )
        timings = as_mapping(payload.get("timings"))
        if timings:
            state.timings = timings_from(timings)
        choices = as_list(payload.get("choices"))
        if not choices:
            return ""
        choice = as_mapping(choices[0])
        reason = choice.get("finish_reason")
        if isinstance(reason, str):
            state.finish_reason = reason
        content = as_mapping(choice.get("delta")).get("content")
        if content is None:
            content = as_mapping(choice.get("message")).get("content")  # a non-streamed completion
        return content if isinstance(content, str) else ""

    def _whole_body(self, raw: bytes) -> list[StreamChunk]:
        """A 200 that is not an event stream: an error body, or a server that ignored `stream`."""
        payload = parse_json_line(raw.decode("utf-8", errors="replace"), "JSON body")
        err = error_in_payload(payload)
        if err is not None:
            raise self._http.scrub_error(err)
        state = _StreamState()
        text = self._absorb(as_mapping(payload), state)
        if state.finish_reason is None and not text:
            raise BackendError(
                FailureKind.BAD_RESPONSE, short(f"expected an event stream, got: {raw[:120]!r}")
            )
        return [StreamChunk(text=text), state.final()] if text else [state.final()]

    async def probe(self) -> ProbeResult:
        """GET the health path: 200 up, 503-loading loading, anything else down. Never raises."""
        start = self._clock.now()
        try:
            response = await self._http.aux("GET", self._health_path)
            latency = self._clock.now() - start
            if response.status_code < 400:
                return ProbeResult(ServerState.UP, f"HTTP {response.status_code}", latency)
            err = await self._http.status_error(response)
        except httpx.HTTPError as exc:
            err = self._http.transport_error(exc)
        except BackendError as exc:
            err = exc
        except Exception as exc:  # a probe reports, it never raises
            err = BackendError(FailureKind.UNKNOWN, short(repr(exc)))
        latency = self._clock.now() - start
        state = ServerState.LOADING if err.kind is FailureKind.MODEL_LOADING else ServerState.DOWN
        return ProbeResult(state, f"{err.kind.value}: {err.detail}", latency)

    async def count_tokens(self, model: str, messages: Sequence[ChatMessage]) -> int | None:
        """Generic OpenAI servers cannot count tokens."""
        return None

    def configure(self, *, connect_s: float, stall_s: float, aux_s: float | None) -> None:
        """Apply new timeouts to this server's connection (settings changed live)."""
        self._http.configure(connect_s=connect_s, stall_s=stall_s, aux_s=aux_s)

    async def aclose(self) -> None:
        await self._http.aclose()
