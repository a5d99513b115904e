"""The supervisor with REAL processes: llama-server, a crash loop, a taken port, an orphan, OOM.

Nothing here mocks a subprocess. The OOM child is a tiny Python program that answers to
llama-server's command line and prints llama.cpp's allocation-failure line.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from steward.backends.factory import make_backend
from steward.engine.breaker import BreakerState
from steward.engine.core import Engine
from steward.engine.events import Completed, EngineEvent, RequestFailed
from steward.engine.request import ChatRequest
from steward.engine.settings import BreakerSettings, EngineSettings, RetrySettings
from steward.engine.types import ChatMessage, GenerationParams
from steward.servers import embedded
from steward.servers.discovery import discover
from steward.servers.events import (
    ModelOperation,
    OrphanReaped,
    ServerOomRecovery,
    ServerState,
    ServerStateChanged,
)
from steward.servers.models import OllamaModelOps
from steward.servers.pidfile import default_run_dir
from steward.servers.policy import SupervisorPolicy
from steward.servers.ports import PortInUse
from steward.servers.profiles import LlamaServerProfile, OllamaServeProfile
from steward.servers.supervisor import Supervisor

FAST = SupervisorPolicy(
    ready_timeout_s=30.0,
    health_interval_s=0.05,
    grace_s=2.0,
    backoff_initial_s=0.05,
    backoff_max_s=0.2,
    max_restarts=2,
    crash_window_s=60.0,
    reap_grace_s=2.0,
)
OOM_LINE = "ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer of size 1207959552"

# Stands in for llama-server: reads -c and --port; above FITS_CTX tokens it "runs out of memory"
# the way llama.cpp reports it and exits 1, otherwise it serves /health like a ready server.
FAKE_LLAMA = textwrap.dedent(
    f"""\
    import http.server, os, sys
    args = sys.argv[1:]
    ctx, port = int(args[args.index("-c") + 1]), int(args[args.index("--port") + 1])
    with open(os.environ["FAKE_LLAMA_RECORD"], "a") as record:
        record.write(f"{{ctx}}\\n")
    if ctx > int(os.environ["FAKE_LLAMA_FITS_CTX"]):
        print("llama_kv_cache: allocating KV cache for n_ctx = " + str(ctx), flush=True)
        print("{OOM_LINE}", file=sys.stderr, flush=True)
        print("llama_init_from_model: failed to initialize the context", file=sys.stderr, flush=True)
        sys.exit(1)

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{{"status":"ok"}}')

        def log_message(self, *a):
            pass

    http.server.HTTPServer(("127.0.0.1", port), Health).serve_forever()
    """
)


@pytest.fixture
def runtime() -> embedded.EmbeddedRuntime:
    return embedded.require()


@pytest.fixture
def events() -> list[EngineEvent]:
    return []


@pytest.fixture
async def make_supervisor(tmp_path: Path, events: list[EngineEvent]) -> AsyncIterator[list[Supervisor]]:
    """A list to append supervisors to; every one is stopped after the test."""
    made: list[Supervisor] = []
    yield made
    for supervisor in made:
        await supervisor.stop_all()


def llama_profile(
    runtime: embedded.EmbeddedRuntime, name: str = "small", **changes: Any
) -> LlamaServerProfile:
    base = LlamaServerProfile(
        name=name,
        binary=runtime.llama_server,
        model=runtime.model,
        ctx_size=512,
        threads=1,
        extra_args=("--no-webui",),
    )
    return replace(base, **changes)


def states(events: list[EngineEvent], server: str) -> list[str]:
    return [e.state for e in events if isinstance(e, ServerStateChanged) and e.server == server]


def new_supervisor(
    made: list[Supervisor], events: list[EngineEvent], tmp_path: Path, *profiles: object
) -> Supervisor:
    supervisor = Supervisor(profiles, policy=FAST, on_event=events.append, log_dir=tmp_path / "server-logs")  # type: ignore[arg-type]
    made.append(supervisor)
    return supervisor


async def test_managed_llama_server_starts_and_becomes_ready(
    runtime: embedded.EmbeddedRuntime,
    make_supervisor: list[Supervisor],
    events: list[EngineEvent],
    tmp_path: Path,
) -> None:
    supervisor = new_supervisor(make_supervisor, events, tmp_path, llama_profile(runtime))

    status = await supervisor.start("small")

    assert status.state == ServerState.READY
    assert status.pid is not None and psutil.pid_exists(status.pid)
    assert os.getpgid(status.pid) == status.pid  # its own process group
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{status.base_url}/health")).json() == {"status": "ok"}
    assert states(events, "small")[0] == "starting" and states(events, "small")[-1] == "ready"
    assert any("listening on" in line.text for line in supervisor.log_tail("small"))
    assert "listening on" in (tmp_path / "server-logs" / "small.log").read_text()
    assert list(default_run_dir().glob("small.*.json"))  # pid recorded while it runs

    stopped = await supervisor.stop("small")

    assert stopped.state == ServerState.STOPPED
    assert not psutil.pid_exists(status.pid) or psutil.Process(status.pid).status() == psutil.STATUS_ZOMBIE
    assert not list(default_run_dir().glob("small.*.json"))


async def test_sigkilled_llama_server_is_restarted_on_the_same_port(
    runtime: embedded.EmbeddedRuntime,
    make_supervisor: list[Supervisor],
    events: list[EngineEvent],
    tmp_path: Path,
) -> None:
    supervisor = new_supervisor(make_supervisor, events, tmp_path, llama_profile(runtime))
    first = await supervisor.start("small")
    assert first.pid is not None

    os.kill(first.pid, signal.SIGKILL)
    server = supervisor.server("small")
    await server.wait_state(ServerState.RESTARTING, timeout=10)
    again = await server.wait_state(ServerState.READY, timeout=30)

    assert again.restarts == 1
    assert again.pid != first.pid and again.port == first.port
    crashed = [e for e in events if isinstance(e, ServerStateChanged) and e.state == "crashed"]
    assert crashed[0].detail == "killed by SIGKILL"
    # The reason and how long the way back took: in the status (the Servers page's row), the log, the event.
    assert again.last_exit.startswith("killed by SIGKILL, restarted in ") and again.last_exit.endswith(" s")
    logged = [line.text for line in supervisor.log_tail("small") if line.stream == "steward"]
    assert logged[0].startswith("[steward] small killed by SIGKILL, restarting in ")
    assert logged[-1] == f"[steward] small {again.last_exit}"
    ready = [e for e in events if isinstance(e, ServerStateChanged) and e.state == "ready"]
    assert ready[-1].detail.endswith(again.last_exit)
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{again.base_url}/health")).status_code == 200


async def test_crash_loop_on_a_bad_model_path_fails_after_the_limit_with_the_log_tail(
    runtime: embedded.EmbeddedRuntime,
    make_supervisor: list[Supervisor],
    events: list[EngineEvent],
    tmp_path: Path,
) -> None:
    profile = llama_profile(runtime, model=tmp_path / "no-such-model.gguf")
    supervisor = new_supervisor(make_supervisor, events, tmp_path, profile)

    status = await supervisor.start("small")

    assert status.state == ServerState.FAILED
    assert status.restarts == FAST.max_restarts
    assert states(events, "small").count("crashed") == FAST.max_restarts + 1
    failed = [e for e in events if isinstance(e, ServerStateChanged) and e.state == "failed"]
    assert len(failed) == 1
    assert "crashed 3 times" in failed[0].detail
    assert any("failed to load model" in line for line in failed[0].log_tail)


async def test_taken_port_is_a_clear_error_naming_the_holder(
    runtime: embedded.EmbeddedRuntime,
    make_supervisor: list[Supervisor],
    events: list[EngineEvent],
    tmp_path: Path,
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        supervisor = new_supervisor(make_supervisor, events, tmp_path, llama_profile(runtime, port=port))

        with pytest.raises(PortInUse) as caught:
            await supervisor.start("small")

    message = str(caught.value)
    assert f"port {port}" in message
    assert f"pid {os.getpid()}" in message and "python" in message.lower()
    assert supervisor.snapshot()[0].state == ServerState.STOPPED  # nothing was started


@pytest.fixture
def orphan_owner(runtime: embedded.EmbeddedRuntime, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A separate Steward-like process that starts a managed llama-server and then waits."""
    program = textwrap.dedent(
        """\
        import asyncio, json, sys
        from pathlib import Path
        from steward.servers.profiles import LlamaServerProfile
        from steward.servers.supervisor import Supervisor

        async def main():
            binary, model, logs = sys.argv[1:4]
            profile = LlamaServerProfile("orphan", Path(binary), Path(model), ctx_size=512, threads=1)
            supervisor = Supervisor([profile], log_dir=Path(logs))
            status = await supervisor.start("orphan")
            print(json.dumps({"pid": status.pid, "state": status.state.value}), flush=True)
            await asyncio.sleep(3600)

        asyncio.run(main())
        """
    )
    argv = [
        sys.executable,
        "-c",
        program,
        str(runtime.llama_server),
        str(runtime.model),
        str(tmp_path / "logs"),
    ]
    owner = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    yield owner
    if owner.poll() is None:
        owner.kill()
    owner.wait()


async def test_next_start_reaps_the_server_of_a_killed_steward(
    orphan_owner: subprocess.Popen[str],
    runtime: embedded.EmbeddedRuntime,
    make_supervisor: list[Supervisor],
    events: list[EngineEvent],
    tmp_path: Path,
) -> None:
    assert orphan_owner.stdout is not None
    line = await asyncio.to_thread(orphan_owner.stdout.readline)
    started = json.loads(line)
    assert started["state"] == "ready"
    orphan_pid = int(started["pid"])
    orphan_owner.send_signal(signal.SIGKILL)  # Steward dies without stopping its server
    orphan_owner.wait()
    orphan = psutil.Process(orphan_pid)
    assert orphan.is_running() and orphan.status() != psutil.STATUS_ZOMBIE  # left behind

    supervisor = new_supervisor(make_supervisor, events, tmp_path, llama_profile(runtime))
    await supervisor.start("small")

    assert [(e.server, e.pid) for e in events if isinstance(e, OrphanReaped)] == [("orphan", orphan_pid)]
    assert not orphan.is_running() or orphan.status() == psutil.STATUS_ZOMBIE
    assert [p.name for p in default_run_dir().glob("*.json")] == [f"small.{os.getpid()}.json"]


@pytest.fixture
def fake_llama(tmp_path: Path) -> Path:
    script = tmp_path / "fake-llama-server"
    script.write_text(f"#!{sys.executable}\n{FAKE_LLAMA}")
    script.chmod(0o755)
    return script


def oom_profile(fake_llama: Path, tmp_path: Path, fits_ctx: int) -> LlamaServerProfile:
    env = {"FAKE_LLAMA_RECORD": str(tmp_path / "ctx.txt"), "FAKE_LLAMA_FITS_CTX": str(fits_ctx)}
    return LlamaServerProfile(
        "oomy", fake_llama, tmp_path / "model.gguf", ctx_size=4096, gpu_layers=32, env=env
    )


async def test_out_of_memory_restarts_with_half_the_context_until_it_fits(
    fake_llama: Path, make_supervisor: list[Supervisor], events: list[EngineEvent], tmp_path: Path
) -> None:
    supervisor = new_supervisor(
        make_supervisor, events, tmp_path, oom_profile(fake_llama, tmp_path, fits_ctx=1024)
    )

    status = await supervisor.start("oomy")

    assert status.state == ServerState.READY
    assert status.ctx_size == 1024
    assert (tmp_path / "ctx.txt").read_text().split() == ["4096", "2048", "1024"]
    recoveries = [e for e in events if isinstance(e, ServerOomRecovery)]
    assert [(e.old_ctx, e.new_ctx, e.old_gpu_layers, e.new_gpu_layers) for e in recoveries] == [
        (4096, 2048, 32, 16),
        (2048, 1024, 16, 8),
    ]
    assert recoveries[0].signature == OOM_LINE


async def test_out_of_memory_at_the_floor_fails(
    fake_llama: Path, make_supervisor: list[Supervisor], events: list[EngineEvent], tmp_path: Path
) -> None:
    supervisor = new_supervisor(
        make_supervisor, events, tmp_path, oom_profile(fake_llama, tmp_path, fits_ctx=100)
    )

    status = await supervisor.start("oomy")

    assert status.state == ServerState.FAILED
    assert (tmp_path / "ctx.txt").read_text().split() == ["4096", "2048", "1024", "512"]
    failed = [e for e in events if isinstance(e, ServerStateChanged) and e.state == "failed"]
    assert "out of memory at context 512" in failed[0].detail
    assert OOM_LINE in failed[0].log_tail


async def test_swapping_the_model_restarts_llama_server_with_the_new_file(
    runtime: embedded.EmbeddedRuntime,
    make_supervisor: list[Supervisor],
    events: list[EngineEvent],
    tmp_path: Path,
) -> None:
    other = tmp_path / "other-model.gguf"
    other.symlink_to(runtime.model)
    supervisor = new_supervisor(make_supervisor, events, tmp_path, llama_profile(runtime))
    before = await supervisor.start("small")

    after = await supervisor.swap_model("small", other)

    assert after.state == ServerState.READY and after.port == before.port and after.pid != before.pid
    async with httpx.AsyncClient() as client:
        props = (await client.get(f"{after.base_url}/props")).json()
    assert props["model_path"] == str(other)
    swaps = [e for e in events if isinstance(e, ModelOperation)]
    assert [(e.model, e.operation, e.ok) for e in swaps] == [("small/other-model.gguf", "swap", True)]


async def test_engine_breaker_recovers_once_the_supervisor_restarted_a_killed_server(
    runtime: embedded.EmbeddedRuntime,
    make_supervisor: list[Supervisor],
    events: list[EngineEvent],
    tmp_path: Path,
) -> None:
    supervisor = Supervisor(
        [llama_profile(runtime)],
        policy=replace(FAST, backoff_initial_s=1.0),  # a window in which the server is really down
        on_event=events.append,
        log_dir=tmp_path / "server-logs",
    )
    make_supervisor.append(supervisor)
    status = await supervisor.start("small")
    assert status.base_url is not None and status.pid is not None
    breaker = BreakerSettings(failure_threshold=1, reset_timeout_s=0.2, max_reset_timeout_s=0.2)
    engine = Engine(EngineSettings(breaker=breaker, retry=RetrySettings(max_retries_same_model=0)))
    engine.add_backend(
        make_backend("llamacpp", "small", status.base_url, api_key=None, connect_s=2.0, stall_s=30.0)
    )
    assert await engine.refresh_models() == []
    (key,) = [m.ref.key for m in engine.models()]
    request = ChatRequest(
        (ChatMessage("user", "Say hello."),), model=key, params=GenerationParams(max_tokens=4)
    )

    os.kill(status.pid, signal.SIGKILL)
    await supervisor.server("small").wait_state(ServerState.RESTARTING, timeout=10)
    down = [e async for e in engine.chat(request)]
    state = engine.model(key)
    assert state is not None
    assert any(isinstance(e, RequestFailed) for e in down)
    opened = state.breaker.state
    assert opened == BreakerState.OPEN

    await supervisor.server("small").wait_state(ServerState.READY, timeout=30)
    await asyncio.sleep(breaker.reset_timeout_s)
    up = [e async for e in engine.chat(request)]

    assert any(isinstance(e, Completed) for e in up)
    recovered = state.breaker.state
    assert recovered == BreakerState.CLOSED
    for backend in engine.backends():
        await backend.aclose()


@pytest.fixture
def fake_ollama_binary(tmp_path: Path) -> Path:
    """An `ollama` stand-in: `ollama serve` runs the Ollama FAKE on OLLAMA_HOST."""
    repo = Path(__file__).resolve().parents[2]
    script = tmp_path / "ollama"
    program = f"""\
        import os, sys
        sys.path.insert(0, {str(repo)!r})
        from tests.support.ollama_fake import FakeModel, OllamaFake
        from tests.support.ollama_fake_http import OllamaFakeHTTPServer
        assert sys.argv[1:] == ["serve"], sys.argv
        host, port = os.environ["OLLAMA_HOST"].rsplit(":", 1)
        print("keep-alive", os.environ["OLLAMA_KEEP_ALIVE"], flush=True)
        OllamaFakeHTTPServer((host, int(port)), OllamaFake([FakeModel("llama3.2:1b")])).serve_forever()
        """
    script.write_text(f"#!{sys.executable}\n{textwrap.dedent(program)}")
    script.chmod(0o755)
    return script


async def test_managed_ollama_serve_becomes_ready_and_loads_and_unloads_models(
    fake_ollama_binary: Path, make_supervisor: list[Supervisor], events: list[EngineEvent], tmp_path: Path
) -> None:
    profile = OllamaServeProfile("ollama", fake_ollama_binary, port=0, keep_alive="1m", num_parallel=2)
    supervisor = new_supervisor(make_supervisor, events, tmp_path, profile)

    status = await supervisor.start("ollama")

    assert status.state == ServerState.READY and status.base_url is not None
    assert next(line.text for line in supervisor.log_tail("ollama")) == "keep-alive 1m"
    assert [(s.kind, s.port) for s in await discover([status.port or 0])] == [("ollama", status.port)]
    assert [(k.id, k.kind, k.source, k.enabled) for k in supervisor.endpoints()] == [
        ("ollama", "ollama", "managed", True)
    ]
    ops = OllamaModelOps("ollama", status.base_url, on_event=events.append)
    await ops.load("llama3.2:1b")
    assert [m.name for m in await ops.loaded()] == ["llama3.2:1b"]
    await ops.unload("llama3.2:1b")
    assert await ops.loaded() == []
    assert [(e.operation, e.ok) for e in events if isinstance(e, ModelOperation)] == [
        ("load", True),
        ("unload", True),
    ]
