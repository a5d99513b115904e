"""GUI benchmarks (`make bench`): event-loop lag and memory of the real window under load, and
the time from process start to the first paint.

Load: the real MainWindow (build_window + the app's qasync loop) on an engine with 50 FAKE
models (tests/support/fake_backend.py, real SystemClock, 20 ms per token) on 10 servers;
snapshots at 2 Hz by the bridge's own timer; 5 streamed chats kept in flight through
`bridge.send_chat` for the whole run. A 10 ms PreciseTimer measures how late it fires
(Qt/asyncio loop lag). ~60 s by default, 600 s with STEWARD_BENCH_LONG=1.
Figures are printed as `[bench] name=value` and written to tests/bench/results/gui.json.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from PySide6.QtCore import QElapsedTimer, Qt, QTimer
from PySide6.QtWidgets import QApplication

from steward.config import SecretStore, Settings, SettingsFile, engine_settings
from steward.engine.clock import SystemClock
from steward.engine.context import ContextManager, engine_summarizer
from steward.engine.core import Engine
from steward.engine.events import EngineEvent
from steward.engine.metrics import percentile
from steward.gui.app import build_window
from steward.gui.bridge import RuntimeFactory
from steward.gui.loop import make_loop
from steward.runtime import Runtime
from tests.support.fake_backend import FakeBackend, ok

pytestmark = pytest.mark.bench
RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).resolve().parents[2]
DURATION_S = 600.0 if os.environ.get("STEWARD_BENCH_LONG") == "1" else 60.0
SERVERS, MODELS_PER_SERVER = 10, 5
CONCURRENT_CHATS = 5
TOKENS = tuple(f" word{i}" for i in range(40))
TOKEN_DELAY_S = 0.020
LAG_TICK_MS = 10
TARGET_LAG_P99_MS = 20.0
TARGET_FIRST_PAINT_S = 2.0


def report(section: str, figures: dict[str, Any]) -> None:
    """Print one line per figure and merge `figures` under `section` in results/gui.json."""
    for name, value in figures.items():
        print(f"[bench] {name}={value}")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "gui.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[section] = figures
    path.write_text(json.dumps(data, indent=2) + "\n")


def fake_runtime(settings_dir: Path) -> RuntimeFactory:
    """A Runtime (no store, no servers) whose engine routes to 50 FAKE streaming models."""

    async def build() -> Runtime:
        settings = Settings.model_validate({"embedded": {"enabled": False}})
        engine = Engine(engine_settings(settings))
        engine.fitter = ContextManager(
            lambda: engine.settings.context, summarize=engine_summarizer(engine.chat)
        )
        clock = SystemClock()
        for s in range(SERVERS):
            backend = FakeBackend(f"fake{s}", clock, {f"model-{m}": 4096 for m in range(MODELS_PER_SERVER)})
            for name in backend.windows:
                backend.script(name, default=ok(*TOKENS, token_delay=TOKEN_DELAY_S))
            engine.add_backend(backend)
        problems = await engine.refresh_models()
        assert not problems, problems
        runtime = Runtime(
            settings=settings,
            settings_file=SettingsFile(settings_dir / "settings.toml"),
            engine=engine,
            secrets=SecretStore(),
        )
        runtime._tasks.append(asyncio.ensure_future(engine.run_health_monitor()))
        return runtime

    return build


class LagProbe:
    """A 10 ms precise timer that records how late each tick fires (ms)."""

    def __init__(self) -> None:
        self.late_ms: list[float] = []
        self._clock = QElapsedTimer()
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(LAG_TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._last = 0

    def start(self) -> None:
        self._clock.start()
        self._last = self._clock.nsecsElapsed()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        now = self._clock.nsecsElapsed()
        self.late_ms.append(max(0.0, (now - self._last) / 1e6 - LAG_TICK_MS))
        self._last = now


class ChatLoad:
    """Keeps CONCURRENT_CHATS streamed chats in flight through the bridge, across all models."""

    def __init__(self, bridge: Any, keys: list[str]) -> None:
        self.bridge = bridge
        self._models = itertools.cycle(["auto", *keys])
        self.running = False
        self.in_flight: set[str] = set()
        self.finished = 0
        self.tokens = 0
        self.drained = asyncio.Event()
        bridge.chat_event.connect(self._on_event)
        bridge.chat_finished.connect(self._on_finished)

    def start(self) -> None:
        self.running = True
        for _ in range(CONCURRENT_CHATS):
            self._send()

    def _send(self) -> None:
        rid = self.bridge.send_chat([("user", "Tell me a story.")], model=next(self._models), max_tokens=64)
        assert rid is not None
        self.in_flight.add(rid)

    def _on_event(self, rid: str, event: EngineEvent) -> None:
        if event.type == "Token":
            self.tokens += 1

    def _on_finished(self, rid: str) -> None:
        if rid in self.in_flight:
            self.in_flight.discard(rid)
            self.finished += 1
            if self.running:
                self._send()
            elif not self.in_flight:
                self.drained.set()


@pytest.fixture
def app_loop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    hooks = sys.get_asyncgen_hooks()
    loop = make_loop(qapp)
    yield loop
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
    asyncio.set_event_loop(None)
    sys.set_asyncgen_hooks(*hooks)


def run_until(loop: asyncio.AbstractEventLoop, predicate: Any, timeout: float = 30.0) -> None:
    async def poll() -> None:
        deadline = loop.time() + timeout
        while not predicate():
            assert loop.time() < deadline, "condition not met in time"
            await asyncio.sleep(0.02)

    loop.run_until_complete(poll())


def test_event_loop_lag_and_memory_under_chat_load(
    app_loop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    bridge, window = build_window(fake_runtime(tmp_path))
    bridge._timer.setInterval(500)  # snapshots at 2 Hz (the app's default, made explicit)
    window.resize(1280, 800)
    window.show()
    bridge.start()
    run_until(app_loop, lambda: bridge.snapshot is not None)
    snapshot = bridge.snapshot
    assert snapshot is not None and len(snapshot.models) == SERVERS * MODELS_PER_SERVER
    process = psutil.Process()
    load = ChatLoad(bridge, [m.key for m in snapshot.models])
    probe = LagProbe()
    snapshots: list[object] = []
    bridge.snapshot_changed.connect(snapshots.append)

    async def measure() -> tuple[float, float]:
        await asyncio.sleep(2.0)  # let the first layout and history loads settle
        rss_start = process.memory_info().rss / 2**20
        snapshots.clear()
        load.start()
        probe.start()
        started = time.perf_counter()
        await asyncio.sleep(DURATION_S)
        probe.stop()
        load.running = False
        elapsed = time.perf_counter() - started
        if load.in_flight:
            await asyncio.wait_for(load.drained.wait(), timeout=30)
        return rss_start, elapsed

    rss_start, elapsed = app_loop.run_until_complete(measure())
    rss_end = process.memory_info().rss / 2**20
    snapshot_count = len(snapshots)
    app_loop.run_until_complete(bridge.shutdown())
    window.close()
    window.deleteLater()

    late = probe.late_ms
    assert load.finished > CONCURRENT_CHATS and load.tokens > 0, "the chat load ran"
    assert late, "the lag probe ticked"
    figures = {
        "gui_duration_s": round(elapsed, 1),
        "gui_models": SERVERS * MODELS_PER_SERVER,
        "gui_chats_completed": load.finished,
        "gui_tokens_streamed": load.tokens,
        "gui_snapshots": snapshot_count,
        "gui_lag_ticks": len(late),
        "gui_lag_p50_ms": round(percentile(late, 50) or 0.0, 2),
        "gui_lag_p99_ms": round(percentile(late, 99) or 0.0, 2),
        "gui_lag_max_ms": round(max(late), 2),
        "gui_rss_start_mb": round(rss_start, 1),
        "gui_rss_end_mb": round(rss_end, 1),
        "gui_rss_growth_mb": round(rss_end - rss_start, 1),
        "gui_lag_p99_target_ms": TARGET_LAG_P99_MS,
    }
    report("lag_under_load", figures)


def test_first_paint_of_a_fresh_process(tmp_path: Path) -> None:
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        PYTHONUNBUFFERED="1",
        STEWARD_CONFIG_DIR=str(tmp_path / "config"),
        STEWARD_DATA_DIR=str(tmp_path / "data"),
        STEWARD_LOG_DIR=str(tmp_path / "logs"),
    )
    spawned = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "steward", "--self-test"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    wall: float | None = None
    in_app: float | None = None
    for line in proc.stdout:
        if line.startswith("self-test: first paint after"):
            wall = time.perf_counter() - spawned
            in_app = float(line.split()[-2])
    assert proc.wait(timeout=60) == 0
    assert wall is not None and in_app is not None, "the self-test reported its first paint"
    figures = {
        "gui_first_paint_s": round(wall, 2),
        "gui_first_paint_in_app_s": in_app,
        "gui_first_paint_target_s": TARGET_FIRST_PAINT_S,
    }
    report("first_paint", figures)
