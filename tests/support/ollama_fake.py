"""`OllamaFake`: a FAKE Ollama server for tests (there is no Ollama binary on these machines).

It speaks the Ollama API as /work/shared/REFERENCE.md describes, from a background thread on a free
127.0.0.1 port: GET / (and HEAD), /api/version, /api/tags, /api/ps; POST /api/show, /api/chat,
/api/generate. This module holds the fake's state and rules; `ollama_fake_http` holds the HTTP layer.

Models are `FakeModel`s. The reply streams word by word: chunks keep their leading whitespace, so they join
to the reply exactly, and eval_count is the number of chunks. Injectable behaviours (busy, out_of_memory,
...) apply to /api/chat and /api/generate, for one model or all, for the next `times` requests or until
`clear_behaviours()`. Mid-stream behaviours only affect streaming responses.

Token counting and SILENT TRUNCATION, as real Ollama does it: `count_prompt_tokens(messages)` is the
whitespace-split words of every message content + 4 per message. The window is options.num_ctx, else a
`num_ctx` line in the model's parameters, else `default_num_ctx` (2048), capped by the model's trained
context_length. A longer prompt loses its oldest non-system messages (the last message is always kept)
until it fits; if it still does not fit, the "runner" cuts it to the window. The answer is still 200 with
prompt_eval_count = the truncated count. With `truncate=False` the fake answers 400 "the prompt is
longer than the context length" instead.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.support.ollama_fake_http import OllamaFakeHTTPServer

Message = dict[str, Any]
DEFAULT_KEEP_ALIVE_S = 300.0
MODIFIED_AT = "2025-01-01T00:00:00Z"
_DURATION = re.compile(r"^(-?\d+(?:\.\d+)?)(ms|s|m|h)?$")
_NUM_CTX_PARAM = re.compile(r"^num_ctx\s+(\d+)", re.MULTILINE)
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


@dataclass
class FakeModel:
    """One installed model of the fake, and what /api/tags, /api/show and /api/ps report about it."""

    name: str
    reply: str | Callable[[list[Message]], str] = "The capital of France is Paris."
    token_delay_s: float = 0.0
    context_length: int = 8192  # trained window: model_info["<arch>.context_length"]
    loaded: bool = False
    architecture: str = "llama"
    family: str = "llama"
    parameter_size: str = "1.2B"
    parameter_count: int = 1_235_814_432
    quantization_level: str = "Q8_0"
    size: int = 1_321_098_329
    size_vram: int = 0
    block_count: int = 16
    head_count: int = 32
    head_count_kv: int = 8
    embedding_length: int = 2048
    parameters: str = 'stop                           "<|eot_id|>"'
    loaded_context_length: int = 0
    expires_at: datetime | None = None

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.name.encode()).hexdigest()

    def details(self) -> dict[str, Any]:
        return {
            "parent_model": "",
            "format": "gguf",
            "family": self.family,
            "families": [self.family],
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization_level,
        }

    def tag_entry(self) -> dict[str, Any]:
        """This model as an /api/tags entry."""
        return {
            "name": self.name,
            "model": self.name,
            "modified_at": MODIFIED_AT,
            "size": self.size,
            "digest": self.digest,
            "details": self.details(),
        }

    def ps_entry(self) -> dict[str, Any]:
        """This model as an /api/ps entry (loaded models only)."""
        expires = self.expires_at.isoformat() if self.expires_at else None
        return self.tag_entry() | {
            "expires_at": expires,
            "size_vram": self.size_vram,
            "context_length": self.loaded_context_length,
        }

    def show(self) -> dict[str, Any]:
        """The /api/show answer."""
        arch = self.architecture
        info = {
            "general.architecture": arch,
            "general.parameter_count": self.parameter_count,
            f"{arch}.context_length": self.context_length,
            f"{arch}.block_count": self.block_count,
            f"{arch}.attention.head_count": self.head_count,
            f"{arch}.attention.head_count_kv": self.head_count_kv,
            f"{arch}.embedding_length": self.embedding_length,
        }
        return {
            "modelfile": f"FROM {self.name}\n",
            "parameters": self.parameters,
            "template": "{{ .Prompt }}",
            "details": self.details(),
            "model_info": info,
            "capabilities": ["completion"],
            "modified_at": MODIFIED_AT,
        }


@dataclass(frozen=True)
class RecordedRequest:
    """A request the fake received (body is the parsed JSON, or None)."""

    method: str
    path: str
    body: Any


@dataclass
class Behaviour:
    """An injected behaviour; `released` ends a hang."""

    kind: str
    model: str | None
    remaining: int | None
    params: dict[str, Any]
    released: threading.Event = field(default_factory=threading.Event)


def count_prompt_tokens(messages: Iterable[Message]) -> int:
    """The fake's deterministic token count: words of every message content + 4 per message."""
    return sum(len(str(m.get("content") or "").split()) + 4 for m in messages)


def fit_messages(messages: list[Message], num_ctx: int) -> list[Message]:
    """Drop the oldest non-system messages (never the last one) until the prompt fits `num_ctx`."""
    kept = list(messages)
    while count_prompt_tokens(kept) > num_ctx:
        droppable = [i for i, m in enumerate(kept[:-1]) if m.get("role") != "system"]
        if not droppable:
            break
        del kept[droppable[0]]
    return kept


def parse_keep_alive(value: Any) -> float:
    """Ollama keep_alive (seconds as a number, or "5m"/"0"/"-1s") in seconds; negative means forever."""
    if value is None:
        return DEFAULT_KEEP_ALIVE_S
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(str(value).strip())
    if match is None:
        raise ValueError(f"time: invalid duration {value!r}")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


class OllamaFake:
    """Fake Ollama server; its thread-safe setters change its behaviour while it runs."""

    def __init__(
        self,
        models: Iterable[FakeModel] = (),
        *,
        default_num_ctx: int = 2048,
        version: str = "0.6.5",
        truncate: bool = True,
    ) -> None:
        self._lock = threading.Lock()
        self._models = {m.name: m for m in models}
        self._behaviours: list[Behaviour] = []
        self._requests: list[RecordedRequest] = []
        self._streams_aborted = 0
        self.stopping = threading.Event()
        self.default_num_ctx = default_num_ctx
        self.version = version
        self.truncate = truncate
        self._httpd: OllamaFakeHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> OllamaFake:
        from tests.support.ollama_fake_http import OllamaFakeHTTPServer

        self._httpd = OllamaFakeHTTPServer(("127.0.0.1", 0), self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="OllamaFake", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; hanging or slow requests are released."""
        self.stopping.set()
        self.clear_behaviours()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> OllamaFake:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "OllamaFake not started"
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ---- models and logs -------------------------------------------------------------------------------

    def add_model(self, model: FakeModel) -> None:
        with self._lock:
            self._models[model.name] = model

    def remove_model(self, name: str) -> None:
        with self._lock:
            self._models.pop(name, None)

    def model(self, name: str) -> FakeModel:
        """A snapshot copy of a model's current state (loaded, loaded_context_length, expires_at, ...)."""
        with self._lock:
            return replace(self._models[name])

    def models(self) -> list[FakeModel]:
        with self._lock:
            return [replace(m) for m in self._models.values()]

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def bodies(self, path: str) -> list[Any]:
        """Bodies received on `path`, oldest first."""
        return [r.body for r in self.requests if r.path == path]

    @property
    def streams_aborted(self) -> int:
        """Streams the client closed before the end (seen when a write fails, so best effort)."""
        with self._lock:
            return self._streams_aborted

    count_prompt_tokens = staticmethod(count_prompt_tokens)

    def effective_num_ctx(self, model: FakeModel, options: dict[str, Any] | None) -> int:
        """options.num_ctx, else the model's num_ctx parameter, else default_num_ctx; capped by training."""
        from_params = _NUM_CTX_PARAM.search(model.parameters)
        num_ctx = (options or {}).get("num_ctx") or (from_params and int(from_params.group(1)))
        return min(int(num_ctx or self.default_num_ctx), model.context_length)

    # ---- behaviours ------------------------------------------------------------------------------------

    def _add(self, kind: str, model: str | None, times: int | None, **params: Any) -> None:
        with self._lock:
            self._behaviours.append(Behaviour(kind, model, times, params))

    def busy(self, model: str | None = None, times: int | None = None) -> None:
        """503 server busy (OLLAMA_MAX_QUEUE exceeded)."""
        self._add("busy", model, times)

    def out_of_memory(
        self,
        required_gib: float = 9.6,
        available_gib: float = 3.1,
        *,
        model: str | None = None,
        times: int | None = None,
    ) -> None:
        """500 'model requires more system memory (X GiB) than is available (Y GiB)'."""
        self._add("oom", model, times, required=required_gib, available=available_gib)

    def error_in_stream(
        self,
        message: str = "an error was encountered while running the model: unexpected EOF",
        after_n_chunks: int = 2,
        *,
        model: str | None = None,
        times: int | None = None,
    ) -> None:
        """HTTP 200 whose stream carries {"error": message} after n chunks, then ends."""
        self._add("error_in_stream", model, times, message=message, after=after_n_chunks)

    def malformed(
        self, after_n_chunks: int = 1, *, model: str | None = None, times: int | None = None
    ) -> None:
        """A garbage non-JSON line after n chunks; the stream then goes on normally."""
        self._add("malformed", model, times, after=after_n_chunks)

    def degenerate(
        self, chunk: str = " the", repeat: int = 100, *, model: str | None = None, times: int | None = None
    ) -> None:
        """The reply is the same chunk repeated `repeat` times."""
        self._add("degenerate", model, times, chunk=chunk, repeat=repeat)

    def hang_before_first_token(self, *, model: str | None = None, times: int | None = None) -> None:
        """Send nothing, not even headers, until `clear_behaviours()` or `stop()`; then answer normally."""
        self._add("hang", model, times)

    def cut_mid_stream(
        self,
        after_n_chunks: int = 2,
        *,
        reset: bool = False,
        model: str | None = None,
        times: int | None = None,
    ) -> None:
        """Close the socket after n chunks without ending the chunked body (reset=True sends a RST)."""
        self._add("cut", model, times, after=after_n_chunks, reset=reset)

    def loading(self, seconds: float, *, model: str | None = None, times: int | None = None) -> None:
        """Requests wait `seconds` before answering, as while a model loads (reported as load_duration)."""
        self._add("loading", model, times, seconds=seconds)

    def clear_behaviours(self) -> None:
        with self._lock:
            for behaviour in self._behaviours:
                behaviour.released.set()
            self._behaviours.clear()

    # ---- used by the HTTP layer (handler threads) ------------------------------------------------------

    def take_behaviours(self, model: str) -> dict[str, Behaviour]:
        """Behaviours for one request to `model`, by kind (counting down `times`)."""
        with self._lock:
            matched = [b for b in self._behaviours if b.model in (None, model)]
            for b in matched:
                if b.remaining is not None:
                    b.remaining -= 1
            self._behaviours = [b for b in self._behaviours if b.remaining is None or b.remaining > 0]
            return {b.kind: b for b in matched}

    def record(self, method: str, path: str, body: Any) -> None:
        with self._lock:
            self._requests.append(RecordedRequest(method, path, body))

    def note_stream_aborted(self) -> None:
        with self._lock:
            self._streams_aborted += 1

    def lookup(self, name: str) -> FakeModel | None:
        """The live model object (mutated only under the lock), or None if not installed."""
        with self._lock:
            return self._models.get(name)

    def loaded_models(self) -> list[FakeModel]:
        """Snapshots of the loaded models, after unloading those whose keep_alive expired."""
        now = datetime.now(UTC)
        with self._lock:
            for m in self._models.values():
                if m.loaded and m.expires_at is not None and m.expires_at < now:
                    m.loaded = False
            return [replace(m) for m in self._models.values() if m.loaded]

    def set_loaded(self, model: FakeModel, num_ctx: int, keep_alive_s: float) -> None:
        """Load `model` with window `num_ctx` for `keep_alive_s` (0 unloads, negative = forever)."""
        with self._lock:
            model.loaded = keep_alive_s != 0
            model.loaded_context_length = num_ctx if model.loaded else 0
            seconds = 1e9 if keep_alive_s < 0 else keep_alive_s
            model.expires_at = datetime.now(UTC) + timedelta(seconds=seconds)

    def reply_chunks(
        self, model: FakeModel, messages: list[Message], behaviours: dict[str, Behaviour]
    ) -> list[str]:
        """The chunks to stream: the reply word by word, or the degenerate repetition."""
        if "degenerate" in behaviours:
            params = behaviours["degenerate"].params
            return [str(params["chunk"])] * int(params["repeat"])
        reply = model.reply(messages) if callable(model.reply) else model.reply
        return re.findall(r"\s*\S+", reply)
