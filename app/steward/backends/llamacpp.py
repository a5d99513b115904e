"""Adapter for llama.cpp's `llama-server`: OpenAI-compatible chat plus its native endpoints.

`/health` tells loading from up, `/props` and `/slots` tell the window actually
loaded (read the slots: builds differ in how `-c` is split across `--parallel`),
and `/apply-template` + `/tokenize` count a conversation's prompt tokens
exactly as the server will (`add_special`/`parse_special` true, as its chat path does).

A llama-server in ROUTER mode (`/props` says `"role": "router"`, see `llamacpp_router`) serves
many models: they are all listed with their status, never asked about while unloaded (asking
loads them), and a chat naming an unloaded model first loads it and reports MODEL_LOADING, so the
engine waits for the load visibly (warm-up, not a failure).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, aclosing
from dataclasses import replace
from typing import cast

import httpx

from steward.backends.http import HttpConnection
from steward.backends.llamacpp_router import (
    FAILED,
    LOADED,
    LOADING,
    UNLOADED,
    RouterModel,
    RouterStatus,
    is_router_props,
    parse_models,
)
from steward.backends.openai_compat import (
    OpenAICompatBackend,
    as_int,
    as_list,
    as_mapping,
    model_from_entry,
)
from steward.engine.clock import Clock
from steward.engine.failures import BackendError, FailureKind
from steward.engine.types import ChatMessage, GenerationParams, ModelInfo, StreamChunk

_SSE_ACCEPT = {"Accept": "text/event-stream"}
_OPTIONAL = (404, 501)  # endpoint absent in this build, or switched off (--no-slots)


def router_info(model: RouterModel) -> ModelInfo:
    """A router's model as ModelInfo: `loaded` and the status in words (extra "load_status")."""
    meta = model.meta
    extra = {"load_status": model.status.words, "router_status": model.status.value}
    code = model.status.exit_code
    failed = model.status.value == FAILED
    unavailable = ("failed to load" + (f" (exit {code})" if code is not None else "")) if failed else None
    if model.status.exit_code is not None:
        extra["router_exit_code"] = str(model.status.exit_code)
    if model.path:
        extra["model_path"] = model.path
    return ModelInfo(
        name=model.id,
        loaded_context=model.loaded_context,
        trained_context=model.trained_context,
        parameter_count=as_int(meta.get("n_params")),
        quantization=str(meta["ftype"]) if isinstance(meta.get("ftype"), str) else None,
        size_bytes=as_int(meta.get("size")),
        loaded=model.status.value == LOADED,
        extra=extra,
        unavailable=unavailable,
    )


class LlamaCppBackend(OpenAICompatBackend):
    """One llama-server process: one model, or a router over many (found out on first contact)."""

    def __init__(self, server_id: str, http: HttpConnection, *, clock: Clock | None = None) -> None:
        super().__init__(server_id, http, clock=clock, health_path="/health")
        self._one_call_count: bool | None = None  # None = not tried yet
        self._router: bool | None = None  # None = not asked yet
        self._autoload = True

    @property
    def kind(self) -> str:
        return "llamacpp"

    async def is_router(self) -> bool:
        """Whether this server is a router (asked once: `/props` has `"role": "router"`)."""
        if self._router is None:
            props = await self._http.request_json("GET", "/props", tolerate=_OPTIONAL)
            self._router = is_router_props(props)
            self._autoload = as_mapping(props).get("models_autoload") is not False
        return self._router

    @property
    def known_router(self) -> bool:
        """Already found to be a router (no request)."""
        return bool(self._router)

    def model_events(self) -> AbstractAsyncContextManager[httpx.Response]:
        """The router's `/models/sse` status stream, open until closed (no read timeout)."""
        connect = self._http.client.timeout.connect
        return self._http.client.stream(
            "GET", "/models/sse", timeout=httpx.Timeout(connect, read=None), headers=_SSE_ACCEPT
        )

    async def router_models(self) -> list[RouterModel]:
        """Every model of a router with its status (`GET /models`)."""
        return parse_models(await self._http.request_json("GET", "/models"))

    async def router_status(self, model: str) -> RouterStatus | None:
        """`model`'s status on this router; None when the router does not list it."""
        return next((m.status for m in await self.router_models() if m.id == model), None)

    async def warmup_over(self, model: str) -> bool | None:
        """On a router: whether waiting for `model` is over (it left loading: loaded, or failed, and
        the next try says why). None on a one-model server: its `/health` probe decides."""
        if not self._router:
            return None
        try:
            status = await self.router_status(model)
        except BackendError:
            return False
        return status is None or status.value not in (LOADING, UNLOADED)

    async def list_models(self) -> list[ModelInfo]:
        """The one loaded model (id from `/v1/models`, with its `meta` block), or every model of a
        router with its status."""
        if await self.is_router():
            return [router_info(m) for m in await self.router_models()]
        payload = await self._http.request_json("GET", "/v1/models")
        entries = [as_mapping(e) for e in as_list(as_mapping(payload).get("data"))]
        return [self._named(replace(model_from_entry(e), loaded=True)) for e in entries[:1] if e.get("id")]

    @staticmethod
    def _named(info: ModelInfo) -> ModelInfo:
        """llama-server names its model by file path; show the file's stem (the full path stays in extra).

        The server answers for any model name, so the short name works in requests too.
        """
        name = info.name
        if "/" in name or name.endswith(".gguf"):
            stem = name.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".gguf")
            return replace(info, name=stem or name, extra={**info.extra, "model_path": name})
        return info

    async def describe(self, model: str) -> ModelInfo:
        """The loaded model with its live window from `/slots` (else `/props`) and the slot count.

        llama-server answers for whatever model name it is sent, so `model` only
        needs to match when the server lists more than one. On a router, the listed entry only:
        asking `/props` or `/slots` about a model loads it.
        """
        if await self.is_router():
            found = next((m for m in await self.router_models() if m.id == model), None)
            if found is None:
                raise BackendError(FailureKind.MODEL_NOT_FOUND, f"the router does not list {model!r}")
            return router_info(found)
        models = await self.list_models()
        info = next((m for m in models if m.name == model), models[0] if models else None)
        if info is None:
            raise BackendError(FailureKind.MODEL_NOT_FOUND, "llama-server reports no loaded model")
        props = as_mapping(await self._http.request_json("GET", "/props", tolerate=_OPTIONAL))
        slots = [
            as_mapping(s) for s in as_list(await self._http.request_json("GET", "/slots", tolerate=_OPTIONAL))
        ]
        slot_ctx = [n for n in (as_int(s.get("n_ctx")) for s in slots) if n]
        props_ctx = as_int(as_mapping(props.get("default_generation_settings")).get("n_ctx"))
        extra = dict(info.extra)
        if isinstance(props.get("model_path"), str):
            extra["model_path"] = str(props["model_path"])
        if isinstance(props.get("build_info"), str):
            extra["build_info"] = str(props["build_info"])
        ftype = props.get("model_ftype")
        return replace(
            info,
            loaded_context=min(slot_ctx) if slot_ctx else props_ctx or info.loaded_context,
            quantization=info.quantization or (ftype if isinstance(ftype, str) else None),
            slots=as_int(props.get("total_slots")) or (len(slots) or None),
            loaded=True,
            extra=extra,
        )

    async def count_tokens(self, model: str, messages: Sequence[ChatMessage]) -> int | None:
        """Exact prompt tokens, as the server will count them for a chat request.

        Recent builds answer in one call (`/v1/chat/completions/input_tokens`, ~1.5 ms here);
        older ones render with the chat template and tokenize (two calls). None when neither exists.
        """
        chat = [{"role": m.role, "content": m.content} for m in messages]
        named: dict[str, object] = {}
        if await self.is_router():
            status = await self.router_status(model)
            if status is None or status.value != LOADED:
                return None  # counting would load it (or wait for its load): estimate instead
            named = {"model": model}  # the router routes POSTs by the body's model
        if self._one_call_count is not False:
            counted = as_mapping(
                await self._http.request_json(
                    "POST",
                    "/v1/chat/completions/input_tokens",
                    body={"messages": chat, **named},
                    tolerate=_OPTIONAL,
                )
            ).get("input_tokens")
            self._one_call_count = isinstance(counted, int)
            if isinstance(counted, int):
                return counted
        rendered = await self._http.request_json(
            "POST",
            "/apply-template",
            body={"messages": chat, **named},
            tolerate=_OPTIONAL,
        )
        prompt = as_mapping(rendered).get("prompt")
        if not isinstance(prompt, str):
            return None
        tokenized = await self._http.request_json(
            "POST",
            "/tokenize",
            body={"content": prompt, "add_special": True, "parse_special": True, **named},
            tolerate=_OPTIONAL,
        )
        tokens = as_mapping(tokenized).get("tokens")
        return len(tokens) if isinstance(tokens, list) else None

    async def stream_chat(
        self, model: str, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[StreamChunk]:
        """Stream one answer; on a router, an unloaded model is loaded first (MODEL_LOADING)."""
        if self._router:
            await self._before_router_chat(model)
        inner_stream = cast(AsyncGenerator[StreamChunk, None], super().stream_chat(model, messages, params))
        async with aclosing(inner_stream) as inner:
            async for chunk in inner:  # closing us closes it (and the connection) too
                yield chunk

    async def _before_router_chat(self, model: str) -> None:
        """Start loading an unloaded model and say so (MODEL_LOADING: the engine waits for it,
        visibly); a loading one is waited for the same way. Loaded, sleeping (the router wakes it
        for the request) and failed (the router tries again and says why) models go straight on."""
        status = await self.router_status(model)
        if status is None or status.value not in (UNLOADED, LOADING):
            return
        if status.value == UNLOADED:
            if not self._autoload:
                raise BackendError(
                    FailureKind.MODEL_NOT_FOUND,
                    f"{model} is unloaded and this router does not load on request "
                    "(--no-models-autoload): load it from Models",
                )
            await self.load(model)
        raise BackendError(FailureKind.MODEL_LOADING, f"{model} is loading on the router")

    async def load(self, model: str) -> None:
        """Ask the router to load `model` (it answers at once and loads in the background)."""
        try:
            await self._http.request_json("POST", "/models/load", body={"model": model})
        except BackendError as exc:
            if "already running" not in exc.detail:  # loading or loaded meanwhile: fine
                raise

    async def unload(self, model: str) -> None:
        """Ask the router to unload `model` (one that does not run is fine: it is unloaded)."""
        try:
            await self._http.request_json("POST", "/models/unload", body={"model": model})
        except BackendError as exc:
            if "not running" not in exc.detail:
                raise
