"""The Models page's "On this disk" tab (issue 15 item 4) in the real window: a scan off the GUI
thread lists the files of a temp home (plus the REAL SmolLM2 file Steward bundles), Serve turns
SmolLM2 into a managed llama-server with the context chosen from the fit, and that real server
answers; Add folder… saves a folder and rescans it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from steward.config import Settings
from steward.engine.events import Completed, EngineEvent
from steward.gui.pages.disk_models import COLUMNS, DiskModelsPanel
from steward.gui.pages.models import ModelsPage
from steward.gui.theme import apply_theme
from steward.servers import embedded
from tests.gui.conftest import AppHarness, llama_settings, wait_until
from tests.gui.contrast import sample_window
from tests.support.gguf_files import write_gguf
from tests.support.llama import LlamaServer

SMOLLM2 = "SmolLM2-135M-Instruct.Q4_1"
ENV_ROOTS = ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "LLAMA_CACHE", "HF_HOME", "HF_HUB_CACHE")


@pytest.fixture
def temp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME and Steward's cache in tmp_path (the llama-server binary stays the real one), holding
    an LM Studio model, a model and a broken file in Steward's own models folder."""
    binary = embedded.find_llama_server()
    assert binary is not None
    monkeypatch.setenv("STEWARD_LLAMA_SERVER", str(binary))
    monkeypatch.setenv("STEWARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "home/.ollama/models"))
    for variable in ENV_ROOTS:
        monkeypatch.delenv(variable, raising=False)
    write_gguf(tmp_path / "home/.lmstudio/models/pub/tiny/tiny-F16.gguf", context=2048)
    write_gguf(tmp_path / "data/models/own.gguf")  # STEWARD_DATA_DIR: tests/conftest.py
    (tmp_path / "cache/models").mkdir(parents=True)
    (tmp_path / "cache/models/broken.gguf").write_bytes(b"not a gguf file")
    return tmp_path / "home"


def disk_tab(h: AppHarness) -> DiskModelsPanel:
    page = h.window.pages["models"]
    assert isinstance(page, ModelsPage)
    h.window.show_page("models")
    page.tabs.setCurrentWidget(page.disk)  # shown: the first scan starts
    wait_until(h.loop, lambda: page.disk.scanned, timeout=60)
    return page.disk


def cells(panel: DiskModelsPanel, name: str) -> dict[str, str]:
    row = [m.name for m in panel.models].index(name)
    return {column: panel.table.item(row, c).text() for c, column in enumerate(COLUMNS)}


def test_scan_lists_the_files_and_serve_starts_a_managed_server_that_answers(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer, temp_home: Path, qtbot: QtBot
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url)))
    panel = disk_tab(h)
    assert sorted(m.name for m in panel.models) == sorted([SMOLLM2, "own", "broken", "tiny-F16"])
    assert cells(panel, SMOLLM2) == {
        "Model": SMOLLM2,
        "Found in": "Steward",
        "Arch": "llama",
        "Params": "135M",
        "Quant": "Q4_1",
        "Trained": "8k",
        "Size": "94 MiB",
        "Fits here": "fits with 8k context",
    }
    assert cells(panel, "tiny-F16")["Found in"] == "LM Studio"
    assert cells(panel, "broken")["Fits here"] == "unreadable"
    panel.select("broken")
    assert not panel.serve_button.isEnabled() and "cannot be read" in panel.serve_button.toolTip()

    qtbot.mouseClick(panel.rescan_button, Qt.MouseButton.LeftButton)
    assert panel.scanning and panel.progress.isVisible() and not panel.rescan_button.isEnabled()
    wait_until(h.loop, lambda: not panel.scanning)
    assert "0 read now, 4 remembered" in panel.status.text() and not panel.progress.isVisible()

    panel.select(SMOLLM2)
    assert panel.serve_button.isEnabled()
    qtbot.mouseClick(panel.serve_button, Qt.MouseButton.LeftButton)
    name = "SmolLM2-135M-Instruct.Q4_1"
    assert panel.result.text().startswith(f"{name}: context 8,192 tokens in CPU RAM")
    service = h.bridge.service
    assert service is not None
    wait_until(h.loop, lambda: service.settings.servers)  # saved, then started, in the background
    profile = service.settings.servers[0]
    assert (profile.name, profile.ctx_size, profile.port, profile.gpu_layers) == (name, 8192, 0, 0)
    assert profile.model_path == str(embedded.find_model())
    assert service.disk_models.unique_name(SMOLLM2) == f"{name}-2"  # a second Serve gets its own name
    wait_until(h.loop, lambda: not panel.serve_button.isEnabled())
    assert (
        panel.serve_button.toolTip()
        == f"Serve is not available: {name} serves it already (see the Servers page)"
    )

    rows = lambda: {r.name: r for r in h.bridge.servers.server_rows()}  # noqa: E731
    wait_until(h.loop, lambda: name in rows() and rows()[name].status == "ready", timeout=60)
    assert rows()[name].managed and rows()[name].ctx == 8192 and rows()[name].port
    key = wait_until(
        h.loop, lambda: next((m.key for m in service.snapshot().models if m.server_id == name), None)
    )

    async def ask() -> list[EngineEvent]:
        request = service.build_request([("user", "Say hi.")], model=key, max_tokens=8, fallback=False)
        return [event async for event in service.ask(request)]

    events = h.loop.run_until_complete(asyncio.wait_for(ask(), 60))
    assert isinstance(events[-1], Completed) and events[-1].model == key


def test_add_folder_saves_it_and_rescans_and_a_non_folder_is_refused(
    harness_factory: Callable[[Settings], AppHarness], temp_home: Path, tmp_path: Path
) -> None:
    h = harness_factory(llama_settings())
    panel = disk_tab(h)
    assert "tiny-F16" in [m.name for m in panel.models]
    problems = panel.add_folder(str(tmp_path / "nowhere"))
    assert problems and "is not a folder" in panel.result.text() and panel.result.property("tone") == "error"
    write_gguf(tmp_path / "mine/deep/mine-Q4_0.gguf")
    assert panel.add_folder(str(tmp_path / "mine")) == []
    wait_until(h.loop, lambda: "mine-Q4_0" in [m.name for m in panel.models])
    assert cells(panel, "mine-Q4_0")["Found in"] == "your folder"
    assert h.bridge.settings is not None
    assert h.bridge.settings.discovery.model_folders == [str(tmp_path / "mine")]

    panel._fill_folders_menu()  # what "Your folders" shows when opened
    (stop,) = panel.folders_menu.actions()
    assert stop.text() == f"Stop scanning {tmp_path / 'mine'}"
    stop.trigger()
    wait_until(h.loop, lambda: "mine-Q4_0" not in [m.name for m in panel.models] and not panel.scanning)
    assert h.bridge.settings.discovery.model_folders == []


def test_the_tab_is_readable_in_light_and_dark(
    harness_factory: Callable[[Settings], AppHarness], temp_home: Path, qapp: QApplication
) -> None:
    h = harness_factory(llama_settings())
    h.window.resize(1024, 700)
    panel = disk_tab(h)
    panel.add_folder("/nowhere/at/all")  # the error line shows too
    try:
        for theme in ("light", "dark"):
            apply_theme(qapp, theme)
            turns = iter(range(30))
            wait_until(h.loop, lambda turns=turns: next(turns, None) is None)  # polish and redraw
            samples = sample_window(h.window, panel, None)
            assert {s.name for s in samples} >= {"QLabel#hint", "QLabel#diskServeResult", "QPushButton#"}
            low = [f"{theme}: {s.name} {s.text!r} {s.ratio:.2f}" for s in samples if s.ratio < 4.5]
            assert not low, low
    finally:
        apply_theme(qapp, "light")
