"""Client bodies to one typed `ChatAsk`: OpenAI's chat.completions and Ollama's /api/chat.

Everything a client sends is checked here, field by field, before the engine sees it: a wrong
type or value is a 400 naming the field, never an exception further in. Fields the engine cannot
honour (tools, several choices, JSON formats, images) are refused rather than silently ignored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from steward.gateway.errors import ApiError

ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
"""Roles the engine speaks; OpenAI's newer `developer` role is a system message."""


@dataclass(frozen=True)
class ChatAsk:
    """One chat request as a client asked it, whichever API it came through."""

    model: str | None
    messages: tuple[tuple[str, str], ...]
    stream: bool
    include_usage: bool = False
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()


def load_json(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a 400 saying what is wrong with it."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ApiError(400, f"the body is not valid JSON: {str(exc)[:120]}", code="invalid_json") from None
    if not isinstance(payload, dict):
        raise ApiError(400, "the body must be a JSON object", code="invalid_json")
    return payload


def parse_openai(payload: Mapping[str, Any], max_messages: int) -> ChatAsk:
    """A `POST /v1/chat/completions` body."""
    n = _int(payload, "n", minimum=1)
    if n not in (None, 1):
        raise ApiError(400, "only n=1 is supported: Steward answers with one choice", param="n")
    if payload.get("tools"):
        raise ApiError(400, "tools are not supported by the Steward gateway", param="tools")
    options = payload.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise ApiError(400, "stream_options must be an object", param="stream_options")
    include_usage = _bool(options or {}, "include_usage", False, "stream_options.include_usage")
    max_tokens = _int(payload, "max_completion_tokens", minimum=1)
    if max_tokens is None:
        max_tokens = _int(payload, "max_tokens", minimum=1)
    return ChatAsk(
        model=_model(payload),
        messages=_messages(payload, max_messages, openai=True),
        stream=_bool(payload, "stream", False),
        include_usage=include_usage,
        max_tokens=max_tokens,
        temperature=_number(payload, "temperature", 0.0, 2.0),
        top_p=_number(payload, "top_p", 0.0, 1.0),
        seed=_int(payload, "seed"),
        stop=_stop(payload.get("stop"), "stop"),
    )


def parse_ollama(payload: Mapping[str, Any], max_messages: int) -> ChatAsk:
    """A `POST /api/chat` body (streams unless `"stream": false`)."""
    if payload.get("tools"):
        raise ApiError(400, "tools are not supported by the Steward gateway", param="tools")
    if payload.get("format"):
        raise ApiError(400, "format (JSON output) is not supported by the Steward gateway", param="format")
    options = payload.get("options")
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise ApiError(400, "options must be an object", param="options")
    num_predict = _int(options, "num_predict", param="options.num_predict")
    return ChatAsk(
        model=_model(payload),
        messages=_messages(payload, max_messages, openai=False),
        stream=_bool(payload, "stream", True),
        max_tokens=num_predict if num_predict is not None and num_predict > 0 else None,  # -1: unbounded
        temperature=_number(options, "temperature", 0.0, 2.0, "options.temperature"),
        top_p=_number(options, "top_p", 0.0, 1.0, "options.top_p"),
        seed=_int(options, "seed", param="options.seed"),
        stop=_stop(options.get("stop"), "options.stop"),
    )


# --- fields ------------------------------------------------------------------------------------


def _model(payload: Mapping[str, Any]) -> str | None:
    model = payload.get("model")
    if model is None or model == "":
        return None  # the settings' default model answers
    if not isinstance(model, str) or len(model) > 300:
        raise ApiError(400, "model must be a string (a model id from /v1/models)", param="model")
    return model


def _messages(payload: Mapping[str, Any], limit: int, *, openai: bool) -> tuple[tuple[str, str], ...]:
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages must be a non-empty list", param="messages")
    if len(messages) > limit:
        raise ApiError(
            400,
            f"{len(messages)} messages is more than the {limit} this gateway accepts in one request",
            param="messages",
            code="too_many_messages",
        )
    out: list[tuple[str, str]] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise ApiError(400, f"{where} must be an object with role and content", param=where)
        role = message.get("role")
        if not isinstance(role, str) or role not in ROLES:
            shown = role if isinstance(role, str) else type(role).__name__
            raise ApiError(
                400,
                f"{where}.role {shown[:40]!r} is not supported; use system, user or assistant",
                param=f"{where}.role",
            )
        if not openai and message.get("images"):
            raise ApiError(400, "images are not supported by the Steward gateway", param=f"{where}.images")
        out.append((ROLES[role], _content(message.get("content"), f"{where}.content")))
    return tuple(out)


def _content(content: Any, where: str) -> str:
    """A message's text: a string, or OpenAI's list of text parts (null: an empty message)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for index, part in enumerate(content):
            if (
                not isinstance(part, dict)
                or part.get("type") != "text"
                or not isinstance(part.get("text"), str)
            ):
                raise ApiError(
                    400, f"{where}[{index}]: only text parts are supported", param=f"{where}[{index}]"
                )
            texts.append(part["text"])
        return "".join(texts)
    raise ApiError(400, f"{where} must be a string or a list of text parts", param=where)


def _bool(payload: Mapping[str, Any], name: str, default: bool, param: str | None = None) -> bool:
    value = payload.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ApiError(400, f"{param or name} must be true or false", param=param or name)
    return value


def _int(
    payload: Mapping[str, Any], name: str, *, minimum: int | None = None, param: str | None = None
) -> int | None:
    value = payload.get(name)
    if value is None:
        return None
    where = param or name
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"{where} must be an integer", param=where)
    if minimum is not None and value < minimum:
        raise ApiError(400, f"{where} must be at least {minimum}", param=where)
    if abs(value) > 2**63 - 1:
        raise ApiError(400, f"{where} is out of range", param=where)
    return value


def _number(
    payload: Mapping[str, Any], name: str, low: float, high: float, param: str | None = None
) -> float | None:
    value = payload.get(name)
    if value is None:
        return None
    where = param or name
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ApiError(400, f"{where} must be a number", param=where)
    if not low <= value <= high:
        raise ApiError(400, f"{where} must be between {low:g} and {high:g}", param=where)
    return float(value)


def _stop(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list) and len(value) <= 16 and all(isinstance(v, str) for v in value):
        return tuple(v for v in value if v)
    raise ApiError(400, f"{where} must be a string or a list of at most 16 strings", param=where)
