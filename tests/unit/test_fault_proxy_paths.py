"""`OnPaths`: a fault for some HTTP paths only, the rest forwarded (a wedged server whose health
check answers while its completions hang or fail), and a proxy listening on a port it is given."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from tests.support.fault_proxy import FaultProxy, OnPaths, Respond, Timeout, http_reply
from tests.support.llama import free_port

COMPLETIONS = "/v1/chat/completions"


class _Handler(BaseHTTPRequestHandler):
    """Answers every GET and POST with its own path."""

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    with FaultProxy("127.0.0.1", server.server_address[1]) as p:
        yield p
    server.shutdown()
    server.server_close()


def test_a_500_for_completions_only(proxy: FaultProxy) -> None:
    proxy.set_fault(OnPaths((COMPLETIONS,), Respond(http_reply(b'{"error":"boom"}', status=500))))
    assert httpx.get(f"{proxy.url}/health").text == "/health"
    assert httpx.get(f"{proxy.url}/v1/models?x=1").text == "/v1/models?x=1"
    answer = httpx.post(f"{proxy.url}{COMPLETIONS}", json={"stream": True})
    assert answer.status_code == 500 and answer.text == '{"error":"boom"}'
    assert httpx.post(f"{proxy.url}{COMPLETIONS}/input_tokens", json={}).status_code == 200, "exact paths"
    assert proxy.connections_answered == 1


def test_a_hang_for_completions_only_and_clearing_forwards_the_held_request(proxy: FaultProxy) -> None:
    proxy.set_fault(OnPaths((COMPLETIONS,), Timeout()))
    assert httpx.get(f"{proxy.url}/health").status_code == 200
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{proxy.url}{COMPLETIONS}", json={}, timeout=httpx.Timeout(2.0, read=0.3))
    held: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: held.append(httpx.post(f"{proxy.url}{COMPLETIONS}", json={})))
    thread.start()
    assert proxy.wait_for_connections(3, 2.0)
    thread.join(0.3)
    assert not held, "held while the fault lasts"
    proxy.clear()
    thread.join(5.0)
    assert held and held[0].text == COMPLETIONS


def test_the_proxy_listens_on_the_port_it_is_given() -> None:
    port = free_port()
    with FaultProxy("127.0.0.1", 9, listen_port=port) as p:
        assert p.port == port
