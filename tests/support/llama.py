"""Start and stop REAL llama-server processes running the real SmolLM2-135M model for tests.

Each instance binds a free loopback port, its log is captured to a file, and it is
always stopped (terminate, then kill) — also when the test fails.
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from steward.servers import embedded


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LlamaServer:
    """One running llama-server process."""

    ctx: int
    port: int
    log_path: Path
    args: list[str]
    process: subprocess.Popen[bytes] | None = None
    _log_handle: object = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_timeout: float = 60.0) -> LlamaServer:
        handle = self.log_path.open("ab")
        self._log_handle = handle
        self.process = subprocess.Popen(self.args, stdout=handle, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama-server exited ({self.process.returncode}):\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"llama-server not ready in {ready_timeout} s:\n{self.log_tail()}")

    def stop(self) -> None:
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        handle = self._log_handle
        if handle is not None:
            handle.close()  # type: ignore[attr-defined]
            self._log_handle = None

    def restart(self) -> LlamaServer:
        """Stop and start again on the SAME port (a server coming back)."""
        self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def make_llama_server(
    log_dir: Path,
    ctx: int = 1024,
    parallel: int | None = None,
    extra: list[str] | None = None,
    model: Path | None = None,
) -> LlamaServer:
    """A not-yet-started llama-server with context `ctx`, for the embedded model (SmolLM2) or `model`."""
    runtime = embedded.require()
    port = free_port()
    args = [
        str(runtime.llama_server),
        "-m",
        str(model or runtime.model),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "-c",
        str(ctx),
        "-t",
        "2",
        "--no-webui",
    ]
    if parallel is not None:
        args += ["--parallel", str(parallel)]
    args += extra or []
    return LlamaServer(ctx=ctx, port=port, log_path=log_dir / f"llama-server-{port}.log", args=args)
