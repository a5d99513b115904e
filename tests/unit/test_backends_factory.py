"""`make_backend` maps kinds to adapters that satisfy the engine's Backend protocol."""

from __future__ import annotations

import pytest

from steward.backends.factory import make_backend
from steward.backends.llamacpp import LlamaCppBackend
from steward.backends.ollama import OllamaBackend
from steward.backends.openai_compat import OpenAICompatBackend
from steward.engine.backend import Backend


@pytest.mark.parametrize(
    ("kind", "cls", "reported"),
    [
        ("ollama", OllamaBackend, "ollama"),
        ("llamacpp", LlamaCppBackend, "llamacpp"),
        ("openai", OpenAICompatBackend, "openai"),
        ("LMStudio", OpenAICompatBackend, "openai"),
        ("vllm", OpenAICompatBackend, "openai"),
    ],
)
def test_kinds_build_their_adapter(kind: str, cls: type, reported: str) -> None:
    backend = make_backend(kind, "srv", "http://127.0.0.1:1", api_key=None, connect_s=1, stall_s=2)
    assert type(backend) is cls
    assert isinstance(backend, Backend)
    assert (backend.kind, backend.server_id) == (reported, "srv")


def test_unknown_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown server kind"):
        make_backend("tgi-cloud", "srv", "http://127.0.0.1:1", api_key=None, connect_s=1, stall_s=1)
