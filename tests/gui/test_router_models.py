"""Models page against a REAL llama-server router (both real models and a broken GGUF): each
model's status in words, Load / Unload enabled only when the router would do them, the status
following the router live; and the add-managed dialog's router mode. Rendered at 1024x700 in
light and dark (the PNGs go to $STEWARD_SHOTS, default a temp folder, for a look by eye)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from steward.config import Settings
from steward.gui.pages.models import COLUMNS, ModelsPage
from steward.gui.pages.servers import ServersPage
from steward.gui.theme import apply_theme, colours
from tests.gui.conftest import AppHarness, llama_settings, wait_until
from tests.support.llama import LlamaServer
from tests.support.router import BROKEN_ID, GEMMA_ID, SMOL_ID, make_router_server, models_dir

SMOL, GEMMA, BROKEN = f"router/{SMOL_ID}", f"router/{GEMMA_ID}", f"router/{BROKEN_ID}"
LOAD_S = 60.0
"""A load takes ~1 s on an idle machine, up to 6 s measured on 2 busy cores: room to spare."""


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    folder = models_dir(tmp_path_factory.mktemp("router-models"), broken=True)
    server = make_router_server(tmp_path_factory.mktemp("router-logs"), folder, models_max=1).start()
    try:
        yield server
    finally:
        server.stop()


def models_page(h: AppHarness) -> ModelsPage:
    page = h.window.pages["models"]
    assert isinstance(page, ModelsPage)
    h.window.show_page("models")
    return page


def loaded_cell(page: ModelsPage, key: str) -> str:
    if key not in page._keys:
        return ""
    item = page.table.item(page._keys.index(key), COLUMNS.index("Loaded"))
    return item.text() if item is not None else ""


def test_models_page_loads_and_unloads_a_routers_models_by_their_status(
    harness_factory: Callable[[Settings], AppHarness], router: LlamaServer, qtbot: QtBot, tmp_path: Path
) -> None:
    h = harness_factory(llama_settings(("router", router.url)))
    h.window.resize(1024, 700)
    page = models_page(h)
    wait_until(h.loop, lambda: len(page._keys) == 3)
    assert {loaded_cell(page, k) for k in (SMOL, GEMMA, BROKEN)} == {"unloaded"}
    page.select(SMOL)
    assert page.load_button.isEnabled() and not page.unload_button.isEnabled()
    assert "it is unloaded" in page.unload_button.toolTip()

    qtbot.mouseClick(page.load_button, Qt.MouseButton.LeftButton)
    wait_until(h.loop, lambda: loaded_cell(page, SMOL) == "loaded", timeout=LOAD_S)
    assert not page.load_button.isEnabled() and page.unload_button.isEnabled()

    page.select(BROKEN)
    qtbot.mouseClick(page.load_button, Qt.MouseButton.LeftButton)
    wait_until(h.loop, lambda: loaded_cell(page, BROKEN) == "failed (exit 1)", timeout=LOAD_S)
    assert page.load_button.isEnabled(), "a failed model may be loaded again"
    failed = page.table.item(page._keys.index(BROKEN), COLUMNS.index("Loaded"))
    assert failed.foreground().color() == colours(page.palette()).error

    page.select(SMOL)  # --models-max 1: the broken load evicted SmolLM2; load it again to show it
    wait_until(h.loop, lambda: page.load_button.isEnabled())
    qtbot.mouseClick(page.load_button, Qt.MouseButton.LeftButton)
    wait_until(h.loop, lambda: loaded_cell(page, SMOL) == "loaded", timeout=LOAD_S)
    shots = Path(os.environ.get("STEWARD_SHOTS", tmp_path))
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    for theme in ("light", "dark"):
        apply_theme(app, theme)
        QApplication.processEvents()
        for name in ("models", "servers"):
            h.window.show_page(name)
            QApplication.processEvents()
            assert h.window.grab().save(str(shots / f"router-{name}-{theme}.png"))
    apply_theme(app, "light")
    h.window.show_page("models")

    said = [r.model for r in h.bridge.servers.server_rows() if r.name == "router"]
    assert said == ["router, 1 of 3 loaded"], said

    qtbot.mouseClick(page.unload_button, Qt.MouseButton.LeftButton)
    wait_until(h.loop, lambda: loaded_cell(page, SMOL) == "unloaded", timeout=LOAD_S)
    assert page.load_button.isEnabled() and not page.unload_button.isEnabled()


def test_add_managed_dialog_offers_one_model_or_a_router_over_a_folder(
    harness_factory: Callable[[Settings], AppHarness], router: LlamaServer, tmp_path: Path
) -> None:
    h = harness_factory(llama_settings(("router", router.url)))
    page = h.window.pages["servers"]
    assert isinstance(page, ServersPage)
    h.window.show_page("servers")
    dialog = page.open_add_managed()
    assert dialog.form.isRowVisible(dialog.model_path.parentWidget().parentWidget())  # type: ignore[union-attr]
    dialog.serves.setCurrentIndex(dialog.serves.findData("router"))
    assert not dialog.form.isRowVisible(dialog.model_path.parentWidget().parentWidget())  # type: ignore[union-attr]
    assert dialog.models_dir.isVisibleTo(dialog) and dialog.models_max.isVisibleTo(dialog)
    dialog.name.setText("folder")
    dialog.submit()
    assert dialog.isVisible() and "choose the folder" in dialog.errors["models_dir"].text()
    dialog.models_dir.setText(str(tmp_path / "missing"))
    dialog.submit()
    assert dialog.isVisible() and "does not exist" in dialog.errors["models_dir"].text()
    dialog.models_dir.setText(str(models_dir(tmp_path / "models")))
    dialog.ctx.setValue(512)
    dialog.models_max.setValue(1)
    assert dialog.values()["models_max"] == 1 and "model_path" not in dialog.values()
    dialog.submit()
    assert not dialog.isVisible()
    wait_until(
        h.loop,
        lambda: (
            h.bridge.snapshot is not None
            and {m.key: m.load_status for m in h.bridge.snapshot.models if m.server_id == "folder"}
            == {f"folder/{SMOL_ID}": "unloaded", f"folder/{GEMMA_ID}": "unloaded"}
        ),
        timeout=60,
    )
