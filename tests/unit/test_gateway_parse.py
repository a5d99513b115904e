"""Client bodies to `ChatAsk`: what is accepted, and every refusal names its field (400)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steward.gateway.errors import ApiError
from steward.gateway.parse import ChatAsk, load_json, parse_ollama, parse_openai

HI = [{"role": "user", "content": "hi"}]


def test_openai_body_with_parts_developer_role_and_sampling() -> None:
    ask = parse_openai(
        {
            "model": "auto",
            "messages": [
                {"role": "developer", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
                {"role": "assistant", "content": None},
            ],
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_completion_tokens": 5,
            "max_tokens": 99,
            "temperature": 0,
            "top_p": 0.5,
            "seed": 7,
            "stop": "\n",
            "n": 1,
            "tools": [],
            "user": "ignored",
        },
        max_messages=10,
    )
    assert ask == ChatAsk(
        model="auto",
        messages=(("system", "be brief"), ("user", "ab"), ("assistant", "")),
        stream=True,
        include_usage=True,
        max_tokens=5,
        temperature=0.0,
        top_p=0.5,
        seed=7,
        stop=("\n",),
    )
    assert parse_openai({"messages": HI}, 10).model is None, "no model: the settings' default answers"
    assert parse_openai({"messages": HI}, 10).stream is False


def test_ollama_body_streams_by_default_and_reads_options() -> None:
    ask = parse_ollama(
        {"model": "m", "messages": HI, "options": {"num_predict": 12, "temperature": 0.2, "stop": ["x"]}}, 10
    )
    assert ask.stream is True and ask.max_tokens == 12 and ask.temperature == 0.2 and ask.stop == ("x",)
    assert (
        parse_ollama({"messages": HI, "stream": False, "options": {"num_predict": -1}}, 10).max_tokens is None
    )


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": "hi"}, "messages"),
        ({"messages": ["hi"]}, "messages[0]"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": 3, "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, "messages[0].content[0]"),
        ({"messages": HI, "model": 5}, "model"),
        ({"messages": HI, "stream": "yes"}, "stream"),
        ({"messages": HI, "max_tokens": "9"}, "max_tokens"),
        ({"messages": HI, "max_tokens": 0}, "max_tokens"),
        ({"messages": HI, "max_tokens": True}, "max_tokens"),
        ({"messages": HI, "max_tokens": 10**30}, "max_tokens"),
        ({"messages": HI, "temperature": "hot"}, "temperature"),
        ({"messages": HI, "temperature": 9}, "temperature"),
        ({"messages": HI, "temperature": float("nan")}, "temperature"),
        ({"messages": HI, "stop": [1]}, "stop"),
        ({"messages": HI, "n": 2}, "n"),
        ({"messages": HI, "tools": [{"type": "function"}]}, "tools"),
        ({"messages": HI, "stream_options": []}, "stream_options"),
        ({"messages": HI, "stream_options": {"include_usage": 1}}, "stream_options.include_usage"),
    ],
)
def test_openai_refusals_name_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_openai(body, max_messages=10)
    assert caught.value.status == 400 and caught.value.param == param
    assert caught.value.openai_body()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": HI, "options": []}, "options"),
        ({"messages": HI, "options": {"num_predict": "x"}}, "options.num_predict"),
        ({"messages": HI, "format": "json"}, "format"),
        ({"messages": [{"role": "user", "content": "x", "images": ["..."]}]}, "messages[0].images"),
    ],
)
def test_ollama_refusals_name_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_ollama(body, max_messages=10)
    assert caught.value.status == 400 and caught.value.param == param
    assert caught.value.ollama_body()["error"]


def test_message_count_limit() -> None:
    with pytest.raises(ApiError) as caught:
        parse_openai({"messages": HI * 11}, max_messages=10)
    assert caught.value.code == "too_many_messages" and "11 messages" in caught.value.message


@pytest.mark.parametrize("raw", [b"", b"{", b"[1]", b"null", b"\xff\xfe", b"[" * 100_000, b'"text"'])
def test_bodies_that_are_not_a_json_object(raw: bytes) -> None:
    with pytest.raises(ApiError) as caught:
        load_json(raw)
    assert caught.value.status == 400 and caught.value.code == "invalid_json"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["model", "messages", "stream", "max_tokens", "temperature", "stop", "options", "n"]),
        json_values,
    )
)
def test_any_json_object_parses_or_is_a_400(body: dict[str, Any]) -> None:
    """Nothing a client sends raises anything but an ApiError(400) out of the parsers."""
    for parse in (parse_openai, parse_ollama):
        try:
            parse(body, 10)
        except ApiError as error:
            assert error.status == 400
