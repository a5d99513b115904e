"""Settings groups of the application around the engine: servers, discovery, routing, storage, UI."""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Annotated, Final, Literal, Self, get_args
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, field_validator, model_validator

from steward.config.base import (
    MAX_NAME_CHARS,
    HiddenValueError,
    ModelKeyText,
    Name,
    NonNegativeInt,
    Port,
    PortOrAuto,
    PositiveInt,
    PositiveSeconds,
    SettingsGroup,
    TaskName,
    Text,
    UrlText,
)
from steward.config.rules import enforce

# Server ids and profile names appear in "server/model" keys, file names and menus.
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Keyring entry names: printable, no whitespace.
_KEY_REF_RE = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")
# Capability tags such as "chat", "code", "tools", "vision", "long_context".
_TAG_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
# Prefixes of real API keys: a value like this in api_key_ref means a secret is about to hit the file.
_SECRET_PREFIXES = ("sk-", "sk_", "pk-", "hf_", "gsk_", "xai-", "Bearer ")

DEFAULT_DISCOVERY_PORTS = (11434, 8080, 1234, 8000, 1337, 5000, 5001)


# Messages never repeat the offending value: the formatter in steward.config.validation adds a
# bounded excerpt of it (or leaves it out for HiddenValueError).


def _check_id(value: str, what: str) -> str:
    if not _ID_RE.match(value):
        raise ValueError(
            f"{what} must be 1-64 characters of letters, digits, '.', '_' or '-' (no '/', it separates "
            "server and model in keys)"
        )
    return value


def check_model_key(value: str) -> str:
    """A "server/model" key: server id, a slash, a non-empty model name (which may itself contain '/')."""
    server, sep, model = value.partition("/")
    if not sep or not server or not model.strip():
        raise ValueError("must be a 'server/model' key such as 'ollama/llama3.2:1b'")
    _check_id(server, "the server part")
    if len(model) > MAX_NAME_CHARS:
        raise ValueError(f"the model name must be at most {MAX_NAME_CHARS} characters long")
    return value


def _check_tag(value: str) -> str:
    if not _TAG_RE.match(value):
        raise ValueError("must be a lower-case word such as 'code' (letters, digits, '_' or '-')")
    return value


def _check_env_name(value: str) -> str:
    if not value or "=" in value or "\0" in value:
        raise ValueError("is not a valid environment variable name")
    return value


# A "server/model" key, checked item by item so one bad entry can be named (and dropped) alone.
ModelKey = Annotated[ModelKeyText, AfterValidator(check_model_key)]
# A capability tag such as "chat", "code", "tools", "vision", "long_context".
Tag = Annotated[str, Field(max_length=32), AfterValidator(_check_tag)]
# An environment variable name for a managed server.
EnvName = Annotated[Name, AfterValidator(_check_env_name)]


class EndpointConfig(SettingsGroup):
    """A server the user configured by hand."""

    id: Name
    kind: Literal["ollama", "openai", "llamacpp"]
    base_url: UrlText
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
        except ValueError:
            # urllib's message may quote the URL, which may hold a password.
            raise HiddenValueError("is not a valid URL (check the brackets and the port)") from None
        if parts.username or parts.password:
            raise HiddenValueError(
                "must not contain credentials; store the API key in the keyring (api_key_ref)"
            )
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        if port == 0:
            raise ValueError("port must be 1..65535")
        return value

    @field_validator("api_key_ref")
    @classmethod
    def _key_name_not_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # Whatever is wrong here, the value might be a pasted key: it is never echoed.
        if value.startswith(_SECRET_PREFIXES):
            raise HiddenValueError(
                "looks like an API key itself; store the key in the OS keyring and put only its name here"
            )
        if not _KEY_REF_RE.match(value):
            raise HiddenValueError("must be a keyring entry name (1-128 characters, no spaces)")
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

    name: Name
    kind: Literal["llamacpp", "ollama"] = "llamacpp"
    binary_path: Text = Field(
        default="", description="Empty = Steward's embedded llama-server / ollama on PATH."
    )
    model_path: Text = Field(default="", description="Empty = the embedded SmolLM2 model.")
    models_dir: Text = Field(
        default="",
        description="A folder of GGUF files: run llama-server as a router over them (not with model_path).",
    )
    models_preset: Text = Field(default="", description="Router: an INI file of per-model arguments.")
    models_max: NonNegativeInt = Field(default=4, description="Router: models loaded at once; 0 = no limit.")
    sleep_idle_s: NonNegativeInt = Field(default=0, description="Unload a model idle this long; 0 = never.")
    ctx_size: NonNegativeInt = Field(default=4096, description="Context window; 0 = the model's own.")
    port: PortOrAuto = Field(default=0, description="0 = pick a free port.")
    host: Name = Field(default="127.0.0.1", description="Managed servers only listen on loopback.")
    threads: NonNegativeInt = Field(default=0, description="0 = let the server decide.")
    gpu_layers: Annotated[int, Field(ge=-1)] = Field(
        default=0, description="Layers offloaded; -1 = server default."
    )
    parallel: PositiveInt = Field(default=1, description="Parallel slots.")
    extra_args: list[Text] = Field(default_factory=list, description="Extra command-line arguments.")
    env: dict[EnvName, Text] = Field(default_factory=dict, description="Extra environment variables.")
    autostart: bool = False

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return _check_id(value, "name")

    @field_validator("host")
    @classmethod
    def _loopback_only(cls, value: str) -> str:
        if not _is_loopback(value):
            raise ValueError("must be a loopback address (127.0.0.1, ::1 or localhost)")
        return value

    @property
    def router(self) -> bool:
        """A llama-server router over a folder of models (and/or a preset file)."""
        return bool(self.models_dir or self.models_preset)

    @model_validator(mode="after")
    def _one_model_or_router(self) -> Self:
        if self.model_path and self.router:
            raise ValueError(
                "model_path and models_dir/models_preset are exclusive: one model file, "
                "or a folder of models (router mode)"
            )
        if self.router and self.kind != "llamacpp":
            raise ValueError("models_dir/models_preset are for llamacpp servers (router mode)")
        return self


EMBEDDED_ALONGSIDE: Final = "alongside_other_servers"
EMBEDDED_WHEN_ALONE: Final = "when_nothing_else_answers"


class EmbeddedConfig(SettingsGroup):
    """The embedded llama-server running the bundled SmolLM2 model."""

    enabled: bool = True
    run: Literal["alongside_other_servers", "when_nothing_else_answers"] = Field(
        default=EMBEDDED_ALONGSIDE,
        description=(
            "alongside_other_servers: start it whenever it is enabled; when_nothing_else_answers: "
            "start it only if no configured, managed or discovered server answers at start."
        ),
    )
    small_ctx: PositiveInt = 1024
    large_ctx: PositiveInt = 4096

    @model_validator(mode="after")
    def _large_not_smaller(self) -> Self:
        enforce("embedded", self)
        return self


def _check_folder(value: str) -> str:
    text = value.strip()
    if not text or "\0" in text or not os.path.isabs(os.path.expanduser(text)):
        raise ValueError("must be an absolute folder path such as /data/models or ~/models")
    return text


# A folder scanned for GGUF model files (the Models page's "On this disk").
ModelFolder = Annotated[Text, AfterValidator(_check_folder)]


class DiscoveryConfig(SettingsGroup):
    """Scanning loopback ports for local model servers, and folders for model files."""

    ports: list[Port] = Field(default_factory=lambda: list(DEFAULT_DISCOVERY_PORTS))
    interval_s: PositiveSeconds = 30.0
    timeout_s: PositiveSeconds = 1.0
    model_folders: list[ModelFolder] = Field(
        default_factory=list,
        description="Folders scanned for GGUF files besides the known ones (LM Studio, Ollama, ...).",
    )

    @field_validator("model_folders")
    @classmethod
    def _unique_folders(cls, value: list[str]) -> list[str]:
        normal = [os.path.normpath(os.path.expanduser(v)) for v in value]
        if len(set(normal)) != len(normal):
            raise ValueError("lists a folder more than once")
        return value

    @field_validator("ports")
    @classmethod
    def _unique(cls, value: list[int]) -> list[int]:
        seen: set[int] = set()
        repeated: set[int] = set()
        for port in value:
            (repeated if port in seen else seen).add(port)
        duplicates = sorted(repeated)
        if duplicates:
            shown = ", ".join(map(str, duplicates[:5])) + (", …" if len(duplicates) > 5 else "")
            raise ValueError(f"lists port(s) {shown} more than once")
        return value


class RoutingConfig(SettingsGroup):
    """Which model answers by default, and where to go when it cannot."""

    default_model: ModelKeyText = Field(default="auto", description="'auto' or a 'server/model' key.")
    fallback_chain: list[ModelKey] = Field(default_factory=list, description="'server/model' keys, in order.")
    fallback_to_any: bool = Field(
        default=True,
        description="When the chosen model and its chain cannot answer, let the best other model answer.",
    )
    capabilities: dict[ModelKey, list[Tag]] = Field(
        default_factory=dict, description="'server/model' key -> tags such as chat, code, tools, vision."
    )
    task_temperature: dict[TaskName, Annotated[float, Field(ge=0.0, le=2.0)]] = Field(
        default_factory=dict,
        description="Task type -> the temperature a request gets when it sets none (e.g. CODING = 0.2).",
    )
    task_max_tokens: dict[TaskName, PositiveInt] = Field(
        default_factory=dict, description="Task type -> the longest reply when a request sets none."
    )

    @field_validator("default_model")
    @classmethod
    def _auto_or_key(cls, value: str) -> str:
        return value if value == "auto" else check_model_key(value)


class RetentionConfig(SettingsGroup):
    """How long recorded data is kept (days; at least 1, or nothing could be charted)."""

    raw_samples_days: PositiveInt = 7
    minute_aggregates_days: PositiveInt = 90
    events_days: PositiveInt = 90


# The window's pages, in sidebar order (a start page is one of these, never free text).
PAGE_NAMES = ("dashboard", "chat", "models", "servers", "hardware", "settings", "events", "gateway")
PageName = Literal["dashboard", "chat", "models", "servers", "hardware", "settings", "events", "gateway"]
assert get_args(PageName) == PAGE_NAMES


class UiConfig(SettingsGroup):
    """Window and chart preferences."""

    theme: Literal["system", "light", "dark"] = "system"
    last_page: PageName = "dashboard"
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
