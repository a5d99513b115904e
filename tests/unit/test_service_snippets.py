"""The snippets the gateway panel offers are complete commands with the real URL and token."""

from __future__ import annotations

import shlex

from steward.service.snippets import gateway_snippets


def test_snippets_carry_the_url_and_the_token() -> None:
    snippets = gateway_snippets("http://127.0.0.1:11480", "stw-abc")
    words = shlex.split(snippets["curl"].replace("\\\n", " "))
    assert words[:2] == ["curl", "http://127.0.0.1:11480/v1/chat/completions"]
    assert "Authorization: Bearer stw-abc" in words
    assert "OPENAI_BASE_URL=http://127.0.0.1:11480/v1" in snippets["Environment (OpenAI clients)"]
    assert 'api_key="stw-abc"' in snippets["Python (openai)"]
    compile(snippets["Python (openai)"], "<snippet>", "exec")  # valid Python
    assert "OLLAMA_HOST=http://127.0.0.1:11480" in snippets["Ollama clients"]


def test_without_a_token_no_auth_header_is_offered() -> None:
    snippets = gateway_snippets("http://127.0.0.1:11480", None)
    assert (
        "Authorization" not in snippets["curl"]
        and "OPENAI_API_KEY=none" in snippets["Environment (OpenAI clients)"]
    )
