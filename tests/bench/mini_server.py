"""A minimal OpenAI-compatible streaming server for benchmarks (a FAKE model: fixed tokens).

Run as a separate process so client-side costs are measured alone:
    python -m tests.bench.mini_server --ports 0 0 0 [--slow-every 20 --slow-ms 1000] [--tokens 8] [--window 4096]
prints one line "PORTS p1 p2 ..." when listening. `/v1/models` reports the model's context window
(vLLM's `max_model_len`) only with `--window N`; without it the window is unknown, as with many
OpenAI-compatible servers. `POST /admin/die` on a port closes that port (listener and connections):
a server crash. `GET /admin/count` returns how many chat requests it got, `GET /admin/requests`
every request it got by path (JSON), so a benchmark can count upstream requests per user request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def sse(payload: object) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


class Port:
    def __init__(self, tokens: int, slow_every: int, slow_ms: float, window: int = 0) -> None:
        self.tokens = tokens
        self.window = window
        self.requests: dict[str, int] = {}
        self.slow_every = slow_every
        self.slow_ms = slow_ms
        self.count = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line = head.split(b"\r\n", 1)[0].decode()
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if length:
                    await reader.readexactly(length)
                method, path, _ = request_line.split(" ", 2)
                if not path.startswith("/admin/"):
                    self.requests[path] = self.requests.get(path, 0) + 1
                if path == "/admin/die":
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    await writer.drain()
                    await self.die()
                    return
                if path == "/admin/count":
                    body = str(self.count).encode()
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
                elif path == "/admin/requests":
                    body = json.dumps(self.requests).encode()
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
                elif path.startswith("/v1/models"):
                    entry: dict[str, object] = {"id": "mini", "object": "model"}
                    if self.window:
                        entry["max_model_len"] = self.window
                    body = json.dumps({"data": [entry]}).encode()
                    writer.write(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                        % (len(body), body)
                    )
                elif method == "POST" and path == "/v1/chat/completions":
                    self.count += 1
                    if self.slow_every and self.count % self.slow_every == 0:
                        await asyncio.sleep(self.slow_ms / 1000)
                    out = [HEAD]
                    for i in range(self.tokens):
                        out.append(chunk(sse({"choices": [{"index": 0, "delta": {"content": f"t{i} "}}]})))
                    out.append(
                        chunk(
                            sse(
                                {
                                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                                    "usage": {"prompt_tokens": 5, "completion_tokens": self.tokens},
                                }
                            )
                        )
                    )
                    out.append(chunk(b"data: [DONE]\n\n"))
                    out.append(b"0\r\n\r\n")
                    writer.write(b"".join(out))
                else:
                    writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    async def die(self) -> None:
        if self.server is not None:
            self.server.close()
        for w in list(self.writers):
            w.transport.abort()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ports", type=int, nargs="+", default=[0])
    parser.add_argument("--tokens", type=int, default=8)
    parser.add_argument("--slow-every", type=int, default=0)
    parser.add_argument("--slow-ms", type=float, default=0)
    parser.add_argument("--window", type=int, default=0, help="context window /v1/models reports; 0: none")
    args = parser.parse_args()
    ports = []
    for port in args.ports:
        state = Port(args.tokens, args.slow_every, args.slow_ms, args.window)
        state.server = await asyncio.start_server(state.handle, "127.0.0.1", port)
        ports.append(state.server.sockets[0].getsockname()[1])
    print("PORTS " + " ".join(map(str, ports)), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes stdin


if __name__ == "__main__":
    asyncio.run(main())
