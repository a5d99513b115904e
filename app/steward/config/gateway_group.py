"""Settings of the local OpenAI/Ollama-compatible gateway (`steward.gateway`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from steward.config.base import Name, Port, SettingsGroup, UrlText

DEFAULT_GATEWAY_PORT = 11480
"""Free of every local server's default: Ollama 11434, LM Studio 1234, llama-server/LocalAI 8080,
vLLM 8000, Jan 1337, text-generation-webui 5000, koboldcpp 5001."""


class GatewayConfig(SettingsGroup):
    """The local endpoint other tools point at; every request goes through the engine."""

    enabled: bool = Field(default=True, description="Serve the gateway while Steward runs.")
    host: Name = Field(
        default="127.0.0.1", description="Listen address; loopback unless you choose otherwise."
    )
    port: Port = Field(default=DEFAULT_GATEWAY_PORT, description="Listen port.")
    require_token: bool = Field(default=True, description="Clients must send the gateway token (Bearer).")
    cors_origins: list[UrlText] = Field(
        default_factory=list, description="Browser origins allowed to call the gateway (none by default)."
    )
    midstream: Literal["continue", "error"] = Field(
        default="continue",
        description="A model that dies mid-answer: continue on the fallback, or end the stream with an error.",
    )
    max_body_bytes: Annotated[int, Field(ge=1024, le=256 * 1024 * 1024)] = Field(
        default=8 * 1024 * 1024, description="Largest request body accepted."
    )
    max_messages: Annotated[int, Field(ge=1, le=100_000)] = Field(
        default=2000, description="Most messages one request may carry."
    )

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for index, origin in enumerate(value):
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"item {index} must be an http:// or https:// origin (or *)")
        return value
