"""Adapter for Ollama's native API (`/api/*`).

Native rather than Ollama's OpenAI shim because only the native API lets us set
`options.num_ctx` (the window the model is loaded with), see what is loaded
(`/api/ps`) and read `prompt_eval_count`: the one trace of Ollama's silent
truncation, which drops old messages and still answers 200. Streams are NDJSON;
the last line has `done: true`.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import replace

import httpx

from steward.backends.classify import error_in_payload, short, truncated_stream
from steward.backends.http import HttpConnection
from steward.backends.openai_compat import as_float, as_int, as_list, as_mapping
from steward.backends.stream_http import StaleConnection
from steward.backends.streams import NdjsonDecoder
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

_NS_PER_MS = 1_000_000.0
_NUM_CTX_RE = re.compile(r"^\s*num_ctx\s+(\d+)\s*$", re.M)


def ollama_options(params: GenerationParams) -> dict[str, object]:
    """GenerationParams as Ollama `options` (num_ctx, num_predict, temperature, top_p, seed, stop)."""
    options: dict[str, object] = {
        "num_ctx": params.num_ctx,
        "num_predict": params.max_tokens,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "seed": params.seed,
    }
    result = {k: v for k, v in options.items() if v is not None}
    if params.stop:
        result["stop"] = list(params.stop)
    return result


def final_chunk(line: Mapping[str, object]) -> StreamChunk:
    """The `done: true` line as the final chunk: usage from the eval counts, timings from ns durations."""
    eval_count = as_int(line.get("eval_count"))
    eval_ns = as_float(line.get("eval_duration"))
    prompt_ns = as_float(line.get("prompt_eval_duration"))
    load_ns = as_float(line.get("load_duration"))
    per_second = eval_count / (eval_ns / 1e9) if eval_count is not None and eval_ns else None
    reason = line.get("done_reason")
    return StreamChunk(
        usage=Usage(prompt_tokens=as_int(line.get("prompt_eval_count")), completion_tokens=eval_count),
        timings=Timings(
            prompt_ms=prompt_ns / _NS_PER_MS if prompt_ns is not None else None,
            predicted_ms=eval_ns / _NS_PER_MS if eval_ns is not None else None,
            predicted_per_second=per_second,
            load_ms=load_ns / _NS_PER_MS if load_ns is not None else None,
        ),
        finish_reason=reason if isinstance(reason, str) else "stop",
        done=True,
    )


def model_from_tag(entry: Mapping[str, object]) -> ModelInfo:
    """An `/api/tags` entry as ModelInfo (not loaded until `/api/ps` says so)."""
    details = as_mapping(entry.get("details"))

    def text(key: str) -> str | None:
        value = details.get(key)
        return value if isinstance(value, str) and value else None

    return ModelInfo(
        name=str(entry.get("name") or entry.get("model") or ""),
        parameter_size=text("parameter_size"),
        quantization=text("quantization_level"),
        family=text("family"),
        size_bytes=as_int(entry.get("size")),
        loaded=False,
    )


def overlay_ps(info: ModelInfo, entry: Mapping[str, object]) -> ModelInfo:
    """Merge an `/api/ps` entry: loaded, VRAM used, loaded window, expiry."""
    extra = dict(info.extra)
    if isinstance(entry.get("expires_at"), str):
        extra["expires_at"] = str(entry["expires_at"])
    return replace(
        info,
        loaded=True,
        vram_bytes=as_int(entry.get("size_vram")),
        loaded_context=as_int(entry.get("context_length")) or info.loaded_context,
        extra=extra,
    )


def overlay_show(info: ModelInfo, show: Mapping[str, object]) -> ModelInfo:
    """Merge an `/api/show` answer: trained window, parameter count, quantization, num_ctx parameter."""
    model_info = as_mapping(show.get("model_info"))
    details = as_mapping(show.get("details"))
    arch = model_info.get("general.architecture")
    trained = as_int(model_info.get(f"{arch}.context_length")) if isinstance(arch, str) else None
    extra = dict(info.extra)
    parameters = show.get("parameters")
    if isinstance(parameters, str) and (m := _NUM_CTX_RE.search(parameters)):
        extra["num_ctx"] = m.group(1)
    quant = details.get("quantization_level")
    family = details.get("family")
    size = details.get("parameter_size")
    return replace(
        info,
        trained_context=trained or info.trained_context,
        parameter_count=as_int(model_info.get("general.parameter_count")) or info.parameter_count,
        parameter_size=info.parameter_size or (size if isinstance(size, str) and size else None),
        quantization=info.quantization or (quant if isinstance(quant, str) and quant else None),
        family=info.family
        or (arch if isinstance(arch, str) else family if isinstance(family, str) else None),
        extra=extra,
    )


class _AnswerLines:
    """The answer so far from NDJSON lines: text deltas until the `done` line, then its final chunk."""

    def __init__(self, http: HttpConnection) -> None:
        self._http = http
        self.final: StreamChunk | None = None

    def take(self, payload: object) -> str:
        """The text delta of one line ("" after `done`); the error a line carries is raised."""
        if self.final is not None:
            return ""
        err = error_in_payload(payload)
        if err is not None:
            raise self._http.scrub_error(err)
        line = as_mapping(payload)
        if not line:
            raise BackendError(FailureKind.BAD_RESPONSE, short(f"unexpected NDJSON: {payload!r}"))
        content = as_mapping(line.get("message")).get("content")
        if line.get("done") is True:
            self.final = final_chunk(line)
        return content if isinstance(content, str) else ""


class OllamaBackend:
    """One Ollama server."""

    def __init__(self, server_id: str, http: HttpConnection, *, clock: Clock | None = None) -> None:
        self._server_id = server_id
        self._http = http
        self._clock: Clock = clock or SystemClock()

    @property
    def server_id(self) -> str:
        return self._server_id

    @property
    def kind(self) -> str:
        return "ollama"

    def __repr__(self) -> str:
        return f"OllamaBackend(server_id={self._server_id!r}, http={self._http!r})"

    async def list_models(self) -> list[ModelInfo]:
        """Installed models (`/api/tags`), marked loaded with VRAM and window from `/api/ps`."""
        tags = await self._http.request_json("GET", "/api/tags")
        models = [model_from_tag(as_mapping(e)) for e in as_list(as_mapping(tags).get("models"))]
        loaded = await self._loaded()
        return [overlay_ps(m, loaded[m.name]) if m.name in loaded else m for m in models if m.name]

    async def _loaded(self) -> dict[str, Mapping[str, object]]:
        payload = await self._http.request_json("GET", "/api/ps")
        entries = [as_mapping(e) for e in as_list(as_mapping(payload).get("models"))]
        return {str(e.get("name") or e.get("model")): e for e in entries}

    async def describe(self, model: str) -> ModelInfo:
        """`/api/show` (404 → model_not_found) merged with the tag and `/api/ps` entries."""
        show = as_mapping(await self._http.request_json("POST", "/api/show", body={"model": model}))
        tags = {m.name: m for m in await self.list_models()}
        info = tags.get(model) or ModelInfo(name=model, loaded=False)
        return overlay_show(info, show)

    def chat_body(
        self, model: str, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> dict[str, object]:
        """The JSON body of a streamed `/api/chat`."""
        body: dict[str, object] = {
            "model": model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True,
        }
        options = ollama_options(params)
        if options:
            body["options"] = options
        return body

    async def stream_chat(
        self, model: str, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[StreamChunk]:
        """Stream one answer from NDJSON lines; the `done` line becomes the final chunk."""
        body = self.chat_body(model, messages, params)
        try:
            async with self._http.stream_post("/api/chat", body, {}) as response:
                if response.status_code >= 400:
                    raise await self._http.status_error(response)
                lines = _AnswerLines(self._http)
                decoder = NdjsonDecoder()
                text = codecs.getincrementaldecoder("utf-8")("replace")
                # Read to the end even after `done`: a fully read answer returns its connection.
                async for piece in response.iter_bytes():
                    for payload in decoder.feed(text.decode(piece)):
                        if delta := lines.take(payload):
                            yield StreamChunk(text=delta)
                for payload in decoder.feed(text.decode(b"", final=True)) + decoder.close():
                    if delta := lines.take(payload):
                        yield StreamChunk(text=delta)
                if lines.final is None:
                    raise truncated_stream('a line with "done": true')
                yield lines.final
        except StaleConnection as stale:
            raise self._http.transport_error(stale.error) from stale.error
        except httpx.HTTPError as exc:
            raise self._http.transport_error(exc) from exc

    async def probe(self) -> ProbeResult:
        """GET `/` ("Ollama is running"). Ollama has no server-level loading state. Never raises."""
        start = self._clock.now()
        try:
            response = await self._http.aux("GET", "/")
            latency = self._clock.now() - start
            if response.status_code < 400:
                return ProbeResult(ServerState.UP, short(response.text) or "ok", latency)
            err = await self._http.status_error(response)
        except httpx.HTTPError as exc:
            err = self._http.transport_error(exc)
        except BackendError as exc:
            err = exc
        except Exception as exc:  # a probe reports, it never raises
            err = BackendError(FailureKind.UNKNOWN, short(repr(exc)))
        return ProbeResult(ServerState.DOWN, f"{err.kind.value}: {err.detail}", self._clock.now() - start)

    async def count_tokens(self, model: str, messages: Sequence[ChatMessage]) -> int | None:
        """Ollama has no tokenizer endpoint."""
        return None

    async def load(
        self, model: str, *, num_ctx: int | None = None, keep_alive: str | int | None = None
    ) -> None:
        """Load (warm) `model`, optionally with window `num_ctx`: a chat request without messages."""
        body: dict[str, object] = {"model": model, "messages": [], "stream": False}
        if num_ctx is not None:
            body["options"] = {"num_ctx": num_ctx}
        if keep_alive is not None:
            body["keep_alive"] = keep_alive
        await self._http.request_json("POST", "/api/chat", body=body)

    async def unload(self, model: str) -> None:
        """Unload `model` now (`keep_alive: 0`)."""
        body = {"model": model, "messages": [], "keep_alive": 0, "stream": False}
        await self._http.request_json("POST", "/api/chat", body=body)

    def configure(self, *, connect_s: float, stall_s: float, aux_s: float | None) -> None:
        """Apply new timeouts to this server's connection (settings changed live)."""
        self._http.configure(connect_s=connect_s, stall_s=stall_s, aux_s=aux_s)

    async def aclose(self) -> None:
        await self._http.aclose()
