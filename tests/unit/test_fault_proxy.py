"""Each FaultProxy fault does what it says, proven with real loopback sockets (httpx and raw sockets)."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from tests.support.fault_proxy import (
    Bandwidth,
    Down,
    FaultProxy,
    Latency,
    LimitData,
    ResetPeer,
    Respond,
    Slicer,
    Timeout,
    http_reply,
)
from tests.support.ollama_fake import FakeModel, OllamaFake


class _PayloadHandler(BaseHTTPRequestHandler):
    """GET /bytes/N -> N bytes; GET /slow -> 20 chunked lines 50 ms apart. HTTP/1.0: closes after reply."""

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        if self.path.startswith("/bytes/"):
            body = bytes(i % 251 for i in range(int(self.path.rsplit("/", 1)[1])))
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.end_headers()
        try:
            for i in range(20):
                self.wfile.write(f"line {i}\n".encode())
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:
            pass


class _EchoHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture
def http_upstream() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PayloadHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def echo_upstream() -> Iterator[socketserver.ThreadingTCPServer]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _EchoHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(http_upstream: ThreadingHTTPServer) -> Iterator[FaultProxy]:
    with FaultProxy("127.0.0.1", http_upstream.server_address[1]) as p:
        yield p


@pytest.fixture
def echo_proxy(echo_upstream: socketserver.ThreadingTCPServer) -> Iterator[FaultProxy]:
    with FaultProxy("127.0.0.1", echo_upstream.server_address[1]) as p:
        yield p


def _connect(p: FaultProxy) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", p.port), timeout=2)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _read_all(sock: socket.socket) -> tuple[bytes, int]:
    """Read until EOF; returns the bytes and how many recv calls delivered data."""
    data, reads = b"", 0
    while chunk := sock.recv(65536):
        data += chunk
        reads += 1
    return data, reads


def _raw_get(p: FaultProxy, path: str) -> tuple[bytes, int]:
    sock = _connect(p)
    with sock:
        sock.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        return _read_all(sock)


def _wait_until(predicate: object, within_s: float = 2.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(0.01)
    return False


def test_forwards_bytes_unchanged_and_counts_them(
    proxy: FaultProxy, http_upstream: ThreadingHTTPServer
) -> None:
    direct = httpx.get(f"http://127.0.0.1:{http_upstream.server_address[1]}/bytes/5000")
    via_proxy = httpx.get(f"{proxy.url}/bytes/5000")
    assert via_proxy.content == direct.content
    assert len(via_proxy.content) == 5000
    assert proxy.connections_accepted == 1
    assert proxy.bytes_up > 0
    assert proxy.bytes_down > 5000  # body plus headers
    assert _wait_until(lambda: proxy.active_connections == 0)


def test_latency_delays_each_response_measurably(proxy: FaultProxy) -> None:
    started = time.perf_counter()
    httpx.get(f"{proxy.url}/bytes/10")
    baseline = time.perf_counter() - started
    proxy.set_fault(Latency(ms=250, jitter_ms=20))
    started = time.perf_counter()
    response = httpx.get(f"{proxy.url}/bytes/10")
    delayed = time.perf_counter() - started
    assert response.content == bytes(range(10))
    assert delayed >= 0.23
    assert delayed > baseline + 0.1


def test_latency_also_applies_to_an_existing_connection(echo_proxy: FaultProxy) -> None:
    with _connect(echo_proxy) as sock:
        sock.sendall(b"fast")
        assert sock.recv(10) == b"fast"
        echo_proxy.set_fault(Latency(ms=150))
        started = time.perf_counter()
        sock.sendall(b"slow")
        assert sock.recv(10) == b"slow"
        assert time.perf_counter() - started >= 0.14


def test_down_refuses_connections_then_listens_again_on_the_same_port(proxy: FaultProxy) -> None:
    port = proxy.port
    proxy.set_fault(Down())
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{proxy.url}/bytes/10")
    proxy.clear()
    assert proxy.port == port
    assert httpx.get(f"http://127.0.0.1:{port}/bytes/10").content == bytes(range(10))


def test_down_closes_existing_connections(echo_proxy: FaultProxy) -> None:
    with _connect(echo_proxy) as sock:
        sock.sendall(b"ping")
        assert sock.recv(10) == b"ping"
        echo_proxy.set_fault(Down())
        assert sock.recv(10) == b""


def test_timeout_hangs_a_new_connection_until_the_client_times_out(proxy: FaultProxy) -> None:
    proxy.set_fault(Timeout())
    started = time.perf_counter()
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{proxy.url}/bytes/10", timeout=0.3)
    assert time.perf_counter() - started >= 0.29
    assert proxy.connections_accepted == 1
    assert proxy.bytes_down == 0
    assert proxy.wait_for_closed(1, timeout=2)  # the proxy never closed it: the client did


def test_timeout_stalls_an_existing_connection_and_clearing_resumes_it(echo_proxy: FaultProxy) -> None:
    with _connect(echo_proxy) as sock:
        sock.sendall(b"one")
        assert sock.recv(10) == b"one"
        echo_proxy.set_fault(Timeout())
        sock.sendall(b"two")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(10)
        echo_proxy.clear()
        sock.settimeout(2)
        assert sock.recv(10) == b"two"


def test_timeout_with_close_after_closes_the_stalled_connection(echo_proxy: FaultProxy) -> None:
    echo_proxy.set_fault(Timeout(close_after_ms=100))
    with _connect(echo_proxy) as sock:
        sock.sendall(b"x")
        assert sock.recv(10) == b""


def test_reset_peer_resets_new_connections(proxy: FaultProxy) -> None:
    proxy.set_fault(ResetPeer())
    # The RST may reach connect() before it returns, or recv() after.
    with pytest.raises(ConnectionResetError), _connect(proxy) as sock:
        sock.sendall(b"GET /bytes/10 HTTP/1.0\r\n\r\n")
        sock.recv(10)
    with pytest.raises(httpx.TransportError) as caught:
        httpx.get(f"{proxy.url}/bytes/10")
    assert "reset" in str(caught.value).lower() or isinstance(caught.value, httpx.RemoteProtocolError)
    assert proxy.connections_accepted == 2
    assert proxy.bytes_down == 0


def test_reset_peer_after_delay_resets_an_existing_connection(echo_proxy: FaultProxy) -> None:
    with _connect(echo_proxy) as sock:
        sock.sendall(b"ping")
        assert sock.recv(10) == b"ping"
        started = time.perf_counter()
        echo_proxy.set_fault(ResetPeer(after_ms=100))
        with pytest.raises(ConnectionResetError):
            sock.recv(10)
        assert time.perf_counter() - started >= 0.09


def test_limit_data_forwards_exactly_n_bytes_then_closes(proxy: FaultProxy) -> None:
    proxy.set_fault(LimitData(1000))
    data, _ = _raw_get(proxy, "/bytes/5000")
    assert len(data) == 1000
    assert proxy.bytes_down == 1000
    assert _wait_until(lambda: proxy.active_connections == 0)


def test_limit_data_mid_body_is_a_protocol_error_for_http_clients(proxy: FaultProxy) -> None:
    proxy.set_fault(LimitData(1000))
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{proxy.url}/bytes/5000")


def test_limit_data_counts_from_the_switch_on_existing_connections(echo_proxy: FaultProxy) -> None:
    with _connect(echo_proxy) as sock:
        sock.sendall(b"a" * 100)
        received = b""
        while len(received) < 100:
            received += sock.recv(100)
        echo_proxy.set_fault(LimitData(10))
        sock.sendall(b"b" * 50)
        assert _read_all(sock)[0] == b"b" * 10


def test_slicer_delivers_the_same_bytes_in_more_reads(proxy: FaultProxy) -> None:
    plain, plain_reads = _raw_get(proxy, "/bytes/2000")
    proxy.set_fault(Slicer(avg_size=100, delay_ms=5, size_variation=20))
    sliced, sliced_reads = _raw_get(proxy, "/bytes/2000")
    assert sliced == plain
    assert sliced_reads >= 8
    assert sliced_reads > plain_reads


def test_bandwidth_caps_throughput(proxy: FaultProxy) -> None:
    proxy.set_fault(Bandwidth(bytes_per_s=20_000))
    started = time.perf_counter()
    data, _ = _raw_get(proxy, "/bytes/4000")
    assert len(data) > 4000
    assert time.perf_counter() - started >= 0.15  # 4 kB at 20 kB/s is 0.2 s; the last piece's wait is free


def test_client_closing_a_stream_is_detected(proxy: FaultProxy) -> None:
    with httpx.Client() as client, client.stream("GET", f"{proxy.url}/slow") as response:
        assert next(response.iter_lines()) == "line 0"
    assert proxy.wait_for_closed(1, timeout=2)
    assert proxy.closed_by_client == 1
    assert _wait_until(lambda: proxy.active_connections == 0)


def test_abandoned_ollama_stream_is_seen_closed_by_client_at_proxy_and_server() -> None:
    slow = FakeModel("slow:1b", reply=" ".join(["w"] * 100), token_delay_s=0.01)
    with OllamaFake([slow]) as fake, FaultProxy("127.0.0.1", fake.port) as p, httpx.Client() as client:
        body = {"model": "slow:1b", "messages": [{"role": "user", "content": "hi"}]}
        with client.stream("POST", f"{p.url}/api/chat", json=body) as response:
            assert '"done":false' in next(response.iter_lines())
        assert p.wait_for_closed(1, timeout=2)
        assert _wait_until(lambda: fake.streams_aborted == 1)


def test_upstream_closing_is_not_counted_as_a_client_close(proxy: FaultProxy) -> None:
    _raw_get(proxy, "/bytes/100")  # HTTP/1.0 upstream closes after the reply
    assert _wait_until(lambda: proxy.active_connections == 0)
    assert proxy.closed_by_client == 0
    assert not proxy.wait_for_closed(1, timeout=0.05)


async def test_wait_for_closed_async_lets_the_caller_loop_run(proxy: FaultProxy) -> None:
    async with httpx.AsyncClient() as client, client.stream("GET", f"{proxy.url}/slow") as response:
        async for line in response.aiter_lines():
            assert line == "line 0"
            break
    assert await proxy.wait_for_closed_async(1, 2)


def test_set_upstream_sends_new_connections_elsewhere(
    proxy: FaultProxy, echo_upstream: socketserver.TCPServer
) -> None:
    proxy.set_upstream("127.0.0.1", echo_upstream.server_address[1])
    with _connect(proxy) as sock:
        sock.sendall(b"echo me")
        assert sock.recv(20) == b"echo me"


def test_refused_upstream_closes_the_client_connection(proxy: FaultProxy) -> None:
    spare = socket.socket()
    spare.bind(("127.0.0.1", 0))
    closed_port = spare.getsockname()[1]
    spare.close()
    proxy.set_upstream("127.0.0.1", closed_port)
    with _connect(proxy) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert sock.recv(10) == b""


def test_stop_closes_connections_and_the_listener(echo_upstream: socketserver.TCPServer) -> None:
    p = FaultProxy("127.0.0.1", echo_upstream.server_address[1]).start()
    sock = _connect(p)
    assert p.wait_for_connections(1, timeout=2)
    p.stop()
    with sock:
        assert sock.recv(10) == b""
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", p.port), timeout=1)


def test_respond_answers_garbage_instead_of_http_without_reaching_upstream(proxy: FaultProxy) -> None:
    proxy.set_fault(Respond(b"\x00\xff\x13 this is not HTTP at all\r\n\r\n"))
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{proxy.url}/bytes/10")
    assert proxy.connections_answered == 1
    assert proxy.bytes_up == 0  # the upstream was never contacted
    assert _wait_until(lambda: proxy.active_connections == 0)


def test_respond_can_answer_200_with_an_error_body(proxy: FaultProxy) -> None:
    body = b'{"error": {"code": 500, "message": "boom", "type": "server_error"}}'
    proxy.set_fault(Respond(http_reply(body)))
    response = httpx.get(f"{proxy.url}/bytes/10")
    assert response.status_code == 200
    assert response.json()["error"]["message"] == "boom"
    proxy.clear()
    assert httpx.get(f"{proxy.url}/bytes/10").content == bytes(range(10))


def test_respond_waits_for_the_whole_request_body_before_answering(proxy: FaultProxy) -> None:
    proxy.set_fault(Respond(http_reply(b"{}")))
    with _connect(proxy) as sock:
        sock.sendall(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345")
        sock.settimeout(0.2)
        with pytest.raises(TimeoutError):
            sock.recv(10)  # half the body is still missing: no answer yet
        sock.settimeout(2)
        sock.sendall(b"67890")
        assert _read_all(sock)[0].startswith(b"HTTP/1.1 200")


def test_respond_repeats_an_sse_event_until_the_client_goes(proxy: FaultProxy) -> None:
    head = http_reply(b"", content_type="text/event-stream", length=False)
    loop = b'data: {"choices":[{"delta":{"content":"again "}}]}\n\n'
    proxy.set_fault(Respond(head, repeat=loop, every_ms=1))
    seen = 0
    with httpx.Client() as client, client.stream("GET", f"{proxy.url}/slow") as response:
        assert response.headers["content-type"] == "text/event-stream"
        for line in response.iter_lines():
            if line:
                assert line == loop.decode().strip()
                seen += 1
            if seen == 200:
                break
    assert proxy.wait_for_closed(1, timeout=2)
    assert _wait_until(lambda: proxy.active_connections == 0)


def test_respond_closes_existing_connections_unless_told_not_to(echo_proxy: FaultProxy) -> None:
    with _connect(echo_proxy) as kept, _connect(echo_proxy) as cut:
        for sock in (kept, cut):
            sock.sendall(b"ping")
            assert sock.recv(10) == b"ping"
        echo_proxy.set_fault(Respond(b"x", close_existing=False))
        kept.sendall(b"still")
        assert kept.recv(10) == b"still"
        echo_proxy.set_fault(Respond(b"x"))
        assert cut.recv(10) == b""


def test_respond_to_a_non_http_client_answers_after_its_first_bytes(echo_proxy: FaultProxy) -> None:
    echo_proxy.set_fault(Respond(b"canned"))
    with _connect(echo_proxy) as sock:
        sock.sendall(b"hello\n")
        assert _read_all(sock)[0] == b"canned"
    assert echo_proxy.connections_answered == 1
