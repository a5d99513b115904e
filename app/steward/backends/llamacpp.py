"""Adapter for llama.cpp's `llama-server`: OpenAI-compatible chat plus its native endpoints.

`/health` tells loading from up, `/props` and `/slots` tell the window actually
loaded (read the slots: builds differ in how `-c` is split across `--parallel`),
and `/apply-template` + `/tokenize` count a conversation's prompt tokens
exactly as the server will (`add_special`/`parse_special` true, as its chat path does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from steward.backends.http import HttpConnection
from steward.backends.openai_compat import (
    OpenAICompatBackend,
    as_int,
    as_list,
    as_mapping,
    model_from_entry,
)
from steward.engine.clock import Clock
from steward.engine.failures import BackendError, FailureKind
from steward.engine.types import ChatMessage, ModelInfo

_OPTIONAL = (404, 501)  # endpoint absent in this build, or switched off (--no-slots)


class LlamaCppBackend(OpenAICompatBackend):
    """One llama-server process serving exactly one model."""

    def __init__(self, server_id: str, http: HttpConnection, *, clock: Clock | None = None) -> None:
        super().__init__(server_id, http, clock=clock, health_path="/health")
        self._one_call_count: bool | None = None  # None = not tried yet

    @property
    def kind(self) -> str:
        return "llamacpp"

    async def list_models(self) -> list[ModelInfo]:
        """The one loaded model (id from `/v1/models`, with its `meta` block)."""
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
        needs to match when the server lists more than one.
        """
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
        if self._one_call_count is not False:
            counted = as_mapping(
                await self._http.request_json(
                    "POST", "/v1/chat/completions/input_tokens", body={"messages": chat}, tolerate=_OPTIONAL
                )
            ).get("input_tokens")
            self._one_call_count = isinstance(counted, int)
            if isinstance(counted, int):
                return counted
        rendered = await self._http.request_json(
            "POST",
            "/apply-template",
            body={"messages": chat},
            tolerate=_OPTIONAL,
        )
        prompt = as_mapping(rendered).get("prompt")
        if not isinstance(prompt, str):
            return None
        tokenized = await self._http.request_json(
            "POST",
            "/tokenize",
            body={"content": prompt, "add_special": True, "parse_special": True},
            tolerate=_OPTIONAL,
        )
        tokens = as_mapping(tokenized).get("tokens")
        return len(tokens) if isinstance(tokens, list) else None
