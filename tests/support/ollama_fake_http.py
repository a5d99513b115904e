"""The HTTP layer of the FAKE Ollama server (`OllamaFake` in ollama_fake.py holds its state and rules).

HTTP/1.1 with keep-alive. Streams are NDJSON in chunked transfer encoding, one JSON object per chunk; the
headers go out with the first line, as Ollama does, so a hang before the first token is a hang before the
response headers. Errors are JSON `{"error": "..."}` with Ollama's status codes and wording.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from tests.support.ollama_fake import (
    DEFAULT_KEEP_ALIVE_S,
    Behaviour,
    FakeModel,
    Message,
    OllamaFake,
    count_prompt_tokens,
    fit_messages,
    parse_keep_alive,
)

_JSON = "application/json; charset=utf-8"
_TEXT = "text/plain; charset=utf-8"


def _dumps(payload: Any) -> bytes:
    """Compact JSON plus newline, as Go's encoder writes it."""
    return json.dumps(payload, separators=(",", ":")).encode() + b"\n"


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class _Cut(Exception):
    """The fake cut the connection on purpose."""


class OllamaFakeHTTPServer(ThreadingHTTPServer):
    """Threading HTTP server bound to one `OllamaFake`."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], fake: OllamaFake) -> None:
        super().__init__(address, _Handler)
        self.fake = fake

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients dropping connections (resets, broken pipes) are routine in fault tests: stay quiet."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "OllamaFake/0"
    disable_nagle_algorithm = True  # headers and body go out as separate writes; don't wait for ACKs

    @property
    def fake(self) -> OllamaFake:
        return cast(OllamaFakeHTTPServer, self.server).fake

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging."""

    def _send(self, status: int, payload: Any, content_type: str = _JSON) -> None:
        data = payload.encode() if isinstance(payload, str) else _dumps(payload)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        self._send(status, {"error": message})

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        self.fake.record(self.command, self.path, None)
        if self.path == "/":
            self._send(200, "Ollama is running", _TEXT)
        elif self.path == "/api/version":
            self._send(200, {"version": self.fake.version})
        elif self.path == "/api/tags":
            self._send(200, {"models": [m.tag_entry() for m in self.fake.models()]})
        elif self.path == "/api/ps":
            self._send(200, {"models": [m.ps_entry() for m in self.fake.loaded_models()]})
        else:
            self._send(404, "404 page not found", _TEXT)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError as exc:
            self.fake.record(self.command, self.path, None)
            self._error(400, f"invalid character in request body: {exc}")
            return
        self.fake.record(self.command, self.path, body)
        if self.path == "/api/show":
            name = str(body.get("model") or body.get("name") or "")
            model = self.fake.lookup(name)
            if model is None:
                self._error(404, f"model '{name}' not found")
            else:
                self._send(200, model.show())
        elif self.path in ("/api/chat", "/api/generate"):
            try:
                self._complete(body, chat=self.path == "/api/chat")
            except (BrokenPipeError, ConnectionResetError):
                self.fake.note_stream_aborted()
                self.close_connection = True
            except _Cut:
                self.close_connection = True
        else:
            self._send(404, "404 page not found", _TEXT)

    def _refusal(self, model: FakeModel | None, name: str, kinds: dict[str, Behaviour]) -> bool:
        """Send the request-level errors (no/unknown model, busy, out of memory); True if one was sent."""
        if not name:
            self._error(400, "model is required")
        elif model is None:
            self._error(404, f'model "{name}" not found, try pulling it first')
        elif "busy" in kinds:
            self._error(503, "server busy, please try again. maximum pending requests exceeded")
        elif "oom" in kinds:
            p = kinds["oom"].params
            required, available = p["required"], p["available"]
            self._error(
                500, f"model requires more system memory ({required} GiB) than is available ({available} GiB)"
            )
        else:
            return False
        return True

    def _complete(self, body: dict[str, Any], *, chat: bool) -> None:
        fake, name = self.fake, str(body.get("model") or "")
        model = fake.lookup(name)
        kinds = fake.take_behaviours(name) if model is not None else {}
        if self._refusal(model, name, kinds):
            return
        assert model is not None
        try:
            keep_alive = parse_keep_alive(body.get("keep_alive"))
        except ValueError as exc:
            self._error(400, str(exc))
            return
        started = time.perf_counter_ns()
        was_loaded = model.loaded
        if "loading" in kinds:
            fake.stopping.wait(float(kinds["loading"].params["seconds"]))
        load_ns = time.perf_counter_ns() - started if ("loading" in kinds or not was_loaded) else 0
        options = body.get("options") or {}
        num_ctx = fake.effective_num_ctx(model, options)
        if chat:
            messages: list[Message] = list(body.get("messages") or [])
        else:
            messages = [{"role": "user", "content": body["prompt"]}] if body.get("prompt") else []

        def line(text: str) -> dict[str, Any]:
            content = {"message": {"role": "assistant", "content": text}} if chat else {"response": text}
            return {"model": name, "created_at": _now_iso(), **content}

        if not messages:  # load / unload request
            fake.set_loaded(model, num_ctx, keep_alive)
            self._send(200, line("") | {"done_reason": "unload" if keep_alive == 0 else "load", "done": True})
            return
        if not fake.truncate and count_prompt_tokens(messages) > num_ctx:
            self._error(400, f"the prompt is longer than the context length ({num_ctx})")
            return
        prompt_tokens = min(count_prompt_tokens(fit_messages(messages, num_ctx)), num_ctx)
        if "hang" in kinds:
            while not (kinds["hang"].released.is_set() or fake.stopping.is_set()):
                kinds["hang"].released.wait(0.05)
        fake.set_loaded(model, num_ctx, keep_alive or DEFAULT_KEEP_ALIVE_S)
        chunks = fake.reply_chunks(model, messages, kinds)
        num_predict = int(options.get("num_predict") or -1)
        done_reason = "stop"
        if 0 <= num_predict < len(chunks):
            chunks, done_reason = chunks[:num_predict], "length"
        eval_started = time.perf_counter_ns()
        stream = body.get("stream", True) is not False
        if stream:
            if not self._stream(model, chunks, line, kinds):
                return
        else:
            fake.stopping.wait(model.token_delay_s * len(chunks))
        final = line("" if stream else "".join(chunks)) | {
            "done_reason": done_reason,
            "done": True,
            "total_duration": time.perf_counter_ns() - started,
            "load_duration": load_ns,
            "prompt_eval_count": prompt_tokens,
            "prompt_eval_duration": max(1, eval_started - started - load_ns),
            "eval_count": len(chunks),
            "eval_duration": max(1, time.perf_counter_ns() - eval_started),
        }
        if keep_alive == 0:
            fake.set_loaded(model, num_ctx, 0)
        if stream:
            self._chunk(_dumps(final))
            self._chunk(b"")
        else:
            self._send(200, final)

    def _stream(
        self,
        model: FakeModel,
        chunks: list[str],
        line: Callable[[str], dict[str, Any]],
        kinds: dict[str, Behaviour],
    ) -> bool:
        """Send the token lines with the injected mid-stream faults; False if the stream ended early."""
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for n, chunk in enumerate(chunks):
            if "cut" in kinds and n == kinds["cut"].params["after"]:
                self._cut(bool(kinds["cut"].params["reset"]))
            if "error_in_stream" in kinds and n == kinds["error_in_stream"].params["after"]:
                self._chunk(_dumps({"error": kinds["error_in_stream"].params["message"]}))
                self._chunk(b"")
                return False
            if "malformed" in kinds and n == kinds["malformed"].params["after"]:
                self._chunk(b"\x00garbage {not json\n")
            if model.token_delay_s > 0:
                self.fake.stopping.wait(model.token_delay_s)
            self._chunk(_dumps(line(chunk) | {"done": False}))
        return True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _cut(self, reset: bool) -> None:
        if reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            self.connection.shutdown(socket.SHUT_RDWR)
        self.connection.close()
        raise _Cut
