"""Settings groups of the application around the engine: servers, discovery, routing, storage, UI."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from steward.config.base import (
    NonNegativeInt,
    Port,
    PortOrAuto,
    PositiveInt,
    PositiveSeconds,
    SettingsGroup,
)

# Server ids and profile names appear in "server/model" keys, file names and menus.
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Keyring entry names: printable, no whitespace.
_KEY_REF_RE = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")
# Capability tags such as "chat", "code", "tools", "vision", "long_context".
_TAG_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
# Prefixes of real API keys: a value like this in api_key_ref means a secret is about to hit the file.
_SECRET_PREFIXES = ("sk-", "sk_", "pk-", "hf_", "gsk_", "xai-", "Bearer ")

DEFAULT_DISCOVERY_PORTS = (11434, 8080, 1234, 8000, 1337, 5000, 5001)


def _check_id(value: str, what: str) -> str:
    if not _ID_RE.match(value):
        raise ValueError(
            f"{what} must be 1-64 characters of letters, digits, '.', '_' or '-' (no '/', it separates "
            f"server and model in keys), got {value!r}"
        )
    return value


def check_model_key(value: str) -> str:
    """A "server/model" key: server id, a slash, a non-empty model name (which may itself contain '/')."""
    server, sep, model = value.partition("/")
    if not sep or not server or not model.strip():
        raise ValueError(f"must be a 'server/model' key such as 'ollama/llama3.2:1b', got {value!r}")
    _check_id(server, "the server part")
    return value


class EndpointConfig(SettingsGroup):
    """A server the user configured by hand."""

    id: str
    kind: Literal["ollama", "openai", "llamacpp"]
    base_url: str
    api_key_ref: str | None = Field(
        default=None, description="Name of the keyring entry holding the API key; never the key itself."
    )
    enabled: bool = True

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return _check_id(value, "id")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            parts = urlsplit(value)
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"is not a valid URL ({exc})") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be an http:// or https:// URL with a host, got {value!r}")
        if port == 0:
            raise ValueError(f"port must be 1..65535, got {value!r}")
        if parts.username or parts.password:
            raise ValueError("must not contain credentials; store the API key in the keyring (api_key_ref)")
        return value

    @field_validator("api_key_ref")
    @classmethod
    def _key_name_not_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith(_SECRET_PREFIXES):
            raise ValueError(
                "looks like an API key itself; store the key in the OS keyring and put only its name here"
            )
        if not _KEY_REF_RE.match(value):
            raise ValueError(f"must be a keyring entry name (1-128 characters, no spaces), got {value!r}")
        return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ServerProfileConfig(SettingsGroup):
    """A server process Steward starts and supervises."""

    name: str
    kind: Literal["llamacpp", "ollama"] = "llamacpp"
    binary_path: str = Field(
        default="", description="Empty = Steward's embedded llama-server / ollama on PATH."
    )
    model_path: str = Field(default="", description="Empty = the embedded SmolLM2 model.")
    ctx_size: NonNegativeInt = Field(default=4096, description="Context window; 0 = the model's own.")
    port: PortOrAuto = Field(default=0, description="0 = pick a free port.")
    host: str = Field(default="127.0.0.1", description="Managed servers only listen on loopback.")
    threads: NonNegativeInt = Field(default=0, description="0 = let the server decide.")
    gpu_layers: Annotated[int, Field(ge=-1)] = Field(
        default=0, description="Layers offloaded; -1 = server default."
    )
    parallel: PositiveInt = Field(default=1, description="Parallel slots.")
    extra_args: list[str] = Field(default_factory=list, description="Extra command-line arguments.")
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment variables.")
    autostart: bool = False

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return _check_id(value, "name")

    @field_validator("host")
    @classmethod
    def _loopback_only(cls, value: str) -> str:
        if not _is_loopback(value):
            raise ValueError(f"must be a loopback address (127.0.0.1, ::1 or localhost), got {value!r}")
        return value

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not key or "=" in key or "\0" in key:
                raise ValueError(f"environment variable name {key!r} is not valid")
        return value


class EmbeddedConfig(SettingsGroup):
    """The embedded llama-server running the bundled SmolLM2 model."""

    enabled: bool = True
    small_ctx: PositiveInt = 1024
    large_ctx: PositiveInt = 4096

    @model_validator(mode="after")
    def _large_not_smaller(self) -> Self:
        if self.large_ctx < self.small_ctx:
            raise ValueError(
                f"large_ctx ({self.large_ctx}) must not be smaller than small_ctx ({self.small_ctx})"
            )
        return self


class DiscoveryConfig(SettingsGroup):
    """Scanning loopback ports for local model servers."""

    ports: list[Port] = Field(default_factory=lambda: list(DEFAULT_DISCOVERY_PORTS))
    interval_s: PositiveSeconds = 30.0
    timeout_s: PositiveSeconds = 1.0

    @field_validator("ports")
    @classmethod
    def _unique(cls, value: list[int]) -> list[int]:
        duplicates = sorted({p for p in value if value.count(p) > 1})
        if duplicates:
            raise ValueError(f"lists port(s) {duplicates} more than once")
        return value


class RoutingConfig(SettingsGroup):
    """Which model answers by default, and where to go when it cannot."""

    default_model: str = Field(default="auto", description="'auto' or a 'server/model' key.")
    fallback_chain: list[str] = Field(default_factory=list, description="'server/model' keys, in order.")
    fallback_to_any: bool = Field(
        default=True,
        description="When the chosen model and its chain cannot answer, let the best other model answer.",
    )
    capabilities: dict[str, list[str]] = Field(
        default_factory=dict, description="'server/model' key -> tags such as chat, code, tools, vision."
    )

    @field_validator("default_model")
    @classmethod
    def _auto_or_key(cls, value: str) -> str:
        return value if value == "auto" else check_model_key(value)

    @field_validator("fallback_chain")
    @classmethod
    def _keys(cls, value: list[str]) -> list[str]:
        for index, key in enumerate(value):
            try:
                check_model_key(key)
            except ValueError as exc:
                raise ValueError(f"item {index} {exc}") from None
        return value

    @field_validator("capabilities")
    @classmethod
    def _tags(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for key, tags in value.items():
            check_model_key(key)
            bad = [t for t in tags if not _TAG_RE.match(t)]
            if bad:
                raise ValueError(f"{key}: tags must be lower-case words such as 'code', got {bad!r}")
        return value


class RetentionConfig(SettingsGroup):
    """How long recorded data is kept (days; at least 1, or nothing could be charted)."""

    raw_samples_days: PositiveInt = 7
    minute_aggregates_days: PositiveInt = 90
    events_days: PositiveInt = 90


class UiConfig(SettingsGroup):
    """Window and chart preferences."""

    theme: Literal["system", "light", "dark"] = "system"
    last_page: str = "dashboard"
    remember_geometry: bool = True
    chart_range_s: Annotated[int, Field(ge=10, le=7 * 24 * 3600)] = Field(
        default=300, description="Visible time range of live charts (10 s .. 7 days)."
    )


class LoggingConfig(SettingsGroup):
    """Log verbosity."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value
