"""`steward serve` as a user runs it: a real child process on an empty config starts the embedded
llama-servers and the gateway, answers a real request, and on SIGTERM exits 0 leaving no
llama-server behind. The token is printed only when it exists for this run only, and never logged."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
from tests.integration.test_cli import llama_pids

STARTUP_S = 120


def serve(tmp_path: Path, *args: str, token: str | None = None) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env.pop("STEWARD_GATEWAY_TOKEN", None)
    env.update(
        STEWARD_CONFIG_DIR=str(tmp_path / "config"),
        STEWARD_DATA_DIR=str(tmp_path / "data"),
        STEWARD_LOG_DIR=str(tmp_path / "logs"),
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",  # no OS keyring: deterministic everywhere
    )
    if token is not None:
        env["STEWARD_GATEWAY_TOKEN"] = token
    return subprocess.Popen(
        [sys.executable, "-m", "steward", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def read_until(proc: subprocess.Popen[str], marker: str, timeout: float = STARTUP_S) -> str:
    """stdout up to and including the line containing `marker` (or what came before exit/timeout)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
            if marker in line:
                break
        else:
            lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen = []
    while True:
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if marker in line:
            break
    return "".join(seen)


def test_serve_answers_and_stops_every_server_on_sigterm(tmp_path: Path) -> None:
    proc = serve(tmp_path, "--port", "0")
    try:
        banner = read_until(proc, "Ctrl+C")
        assert "Steward gateway listening on http://127.0.0.1:" in banner, banner + (
            proc.stderr.read() if proc.poll() is not None and proc.stderr else ""
        )
        url = re.search(r"listening on (http://\S+)", banner).group(1)  # type: ignore[union-attr]
        tokens = re.findall(r"stw-[A-Za-z0-9_\-]{20,}", banner)
        assert len(tokens) == 1 and "this run only" in banner, "no keyring: the run's token is shown once"
        headers = {"authorization": f"Bearer {tokens[0]}"}
        body = {"messages": [{"role": "user", "content": "What is the capital of France?"}], "max_tokens": 8}
        reply = httpx.post(url + "/v1/chat/completions", json=body, headers=headers, timeout=120)
        assert reply.status_code == 200, reply.text
        assert reply.headers["x-steward-model"].startswith("embedded-")
        assert reply.json()["choices"][0]["message"]["content"].strip()
        ollama = httpx.post(url + "/api/chat", json={**body, "stream": False}, headers=headers, timeout=120)
        assert ollama.status_code == 200 and ollama.json()["done"] is True
        assert httpx.get(url + "/v1/models", timeout=10).status_code == 401
        assert llama_pids(tmp_path / "data"), "the embedded servers run while serving"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    rest = proc.stdout.read() if proc.stdout else ""
    errors = proc.stderr.read() if proc.stderr else ""
    assert "stopping" in rest
    assert llama_pids(tmp_path / "data") == set(), "no llama-server left behind"
    log = (tmp_path / "logs" / "steward.log").read_text()
    assert tokens[0] not in log + errors + rest, "the token is printed once, to stdout only"
    assert "gateway listening" in log and "gateway stopped" in log


def test_serve_on_a_taken_port_exits_1_and_stops_the_servers_it_started(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = serve(tmp_path, "--port", str(port), token="stw-from-the-environment-123456")
        try:
            code = proc.wait(timeout=STARTUP_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    errors = proc.stderr.read() if proc.stderr else ""
    assert code == 1 and f"cannot listen on http://127.0.0.1:{port}" in errors
    assert "stw-from-the-environment" not in errors + (proc.stdout.read() if proc.stdout else "")
    assert llama_pids(tmp_path / "data") == set(), "servers started for nothing are stopped again"
