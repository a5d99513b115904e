"""Dark mode and theming (issue 14, item 5): one palette-driven theme, switched live from the
settings, with every page's text readable (WCAG >= 4.5, measured on the rendered pixels) in light,
in dark, and after switching back to light at 1024x700."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from steward.config import Settings
from steward.gui.charts import LiveChart
from steward.gui.pages.dashboard import DashboardPage
from steward.gui.theme import DARK, LIGHT, apply_theme, build_palette, colours, contrast_ratio
from tests.gui.conftest import AppHarness, llama_settings, wait_until
from tests.gui.contrast import Sample, sample_window
from tests.support.llama import LlamaServer

Role = QPalette.ColorRole
AA = 4.5


@pytest.fixture
def restore_light(qapp: QApplication) -> Iterator[QApplication]:
    yield qapp
    apply_theme(qapp, "light")


@pytest.mark.parametrize("dark", [False, True])
def test_palette_text_roles_reach_aa_on_every_background(dark: bool) -> None:
    palette = build_palette(dark)
    for text in (Role.WindowText, Role.Text, Role.PlaceholderText, Role.Link, Role.ButtonText):
        for background in (Role.Window, Role.Base, Role.AlternateBase, Role.Button):
            ratio = contrast_ratio(palette.color(text), palette.color(background))
            assert ratio >= AA, f"{text.name} on {background.name}: {ratio:.2f}"
    theme = colours(palette)
    assert theme.dark is dark
    assert contrast_ratio(theme.chart_axis, theme.window) >= AA
    for status_text in (theme.error, theme.warning, theme.success, theme.muted):
        assert contrast_ratio(status_text, theme.window) >= AA
        assert contrast_ratio(status_text, theme.card) >= AA
    assert set(LIGHT) == set(DARK), "both themes set the same roles"


def settle(h: AppHarness, rounds: int = 30) -> None:
    """Let Qt and asyncio run a few turns (layouts, polish, a redraw tick)."""
    count = [0]

    def turned() -> bool:
        count[0] += 1
        return count[0] > rounds

    wait_until(h.loop, turned, timeout=10)


def unreadable(h: AppHarness, theme: str) -> list[str]:
    failures: list[str] = []
    for name, page in h.window.pages.items():
        h.window.show_page(name)
        settle(h)
        samples: list[Sample] = sample_window(h.window, page, h.window.statusBar())
        assert samples, f"no text sampled on {name}"
        failures += [
            f"{theme} {name}: {s.name} {s.text!r} {s.ink} on {s.background} = {s.ratio:.2f}"
            for s in samples
            if s.ratio < AA
        ]
    return failures


def test_every_page_is_readable_in_light_dark_and_light_again(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer, restore_light: QApplication
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url)))
    h.window.resize(1024, 700)
    wait_until(h.loop, lambda: h.bridge.snapshot is not None and h.bridge.snapshot.models)
    failures: list[str] = []
    for theme in ("light", "dark", "light"):  # the last one: switching back leaves nothing dark
        apply_theme(restore_light, theme)
        failures += unreadable(h, theme)
    assert not failures, "\n".join(failures)


def test_contrast_sampling_catches_dark_text_on_a_dark_background(
    qtbot: QtBot, restore_light: QApplication
) -> None:
    """The measurement itself is honest: the same label fails when its text is dark-on-dark."""
    apply_theme(restore_light, "dark")
    root = QWidget()
    qtbot.addWidget(root)
    layout = QVBoxLayout(root)
    good, bad = QLabel("Readable body text on the dark window"), QLabel("Dark text on the dark window")
    layout.addWidget(good)
    layout.addWidget(bad)
    palette = bad.palette()
    palette.setColor(Role.WindowText, build_palette(False).color(Role.WindowText))  # light theme's text
    bad.setPalette(palette)
    root.resize(400, 80)
    root.show()
    qtbot.waitExposed(root)
    ratios = {s.text: s.ratio for s in sample_window(root, root, None)}
    assert ratios["Readable body text on the dark window"] >= AA
    assert ratios["Dark text on the dark window"] < 1.5


def test_the_theme_setting_switches_the_running_app(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer, restore_light: QApplication
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url)))
    page = h.window.pages["dashboard"]
    assert isinstance(page, DashboardPage)
    chart: LiveChart = page.chart
    h.window.show_page("dashboard")
    assert h.bridge.apply_settings({"ui.theme": "dark"}) == []
    wait_until(h.loop, lambda: restore_light.palette().color(Role.Window).lightness() < 128)
    settle(h)
    dark = colours()
    assert chart.getAxis("left").textPen().color().name() == dark.chart_axis.name()
    assert page.cpu.getAxis("left").textPen().color().name() == dark.chart_axis.name()
    assert h.bridge.apply_settings({"ui.theme": "light"}) == []
    wait_until(h.loop, lambda: restore_light.palette().color(Role.Window).lightness() > 128)
    settle(h)
    light = colours()
    assert chart.getAxis("left").textPen().color().name() == light.chart_axis.name()
    hardware = h.window.pages["hardware"]
    h.window.show_page("hardware")
    settle(h)
    failures = [s for s in sample_window(h.window, hardware, h.window.statusBar()) if s.ratio < AA]
    assert not failures, "Hardware is readable again right after switching back to light"


@pytest.mark.parametrize("dark", [False, True])
def test_selection_and_link_colours_reach_aa(dark: bool) -> None:
    palette = build_palette(dark)
    assert contrast_ratio(palette.color(Role.HighlightedText), palette.color(Role.Highlight)) >= AA
    assert (
        contrast_ratio(palette.color(Role.Link), palette.color(Role.Base)) >= AA
    )  # the sidebar's current page


def test_follow_system_uses_the_system_scheme_and_names_the_result(restore_light: QApplication) -> None:
    from steward.gui.theme import system_is_dark, theme_changed

    seen: list[bool] = []
    theme_changed().connect(seen.append)
    dark = apply_theme(restore_light, "system")
    assert dark is system_is_dark()
    assert seen == [dark], "listeners hear the switch once"
    assert colours().dark is dark
    assert restore_light.property("steward_dark") is dark


def test_toned_text_is_readable_in_both_themes_and_follows_a_live_switch(
    qtbot: QtBot, restore_light: QApplication
) -> None:
    """Error/warning/success/muted text (settings errors, test results) is marked with a tone, not
    a fixed colour: it reaches AA on the window in light AND dark, re-coloured by the switch."""
    from steward.gui.theme import TONES, set_tone

    root = QWidget()
    qtbot.addWidget(root)
    layout = QVBoxLayout(root)
    labels = {}
    for tone in TONES:
        labels[tone] = QLabel(f"{tone} text says what happened")
        set_tone(labels[tone], tone)
        layout.addWidget(labels[tone])
    root.resize(420, 140)
    root.show()
    qtbot.waitExposed(root)
    for theme in ("light", "dark", "light"):
        apply_theme(restore_light, theme)
        qtbot.wait(10)
        ratios = {s.text: s.ratio for s in sample_window(root, root, None)}
        for tone in TONES:
            assert ratios[f"{tone} text says what happened"] >= AA, (theme, tone, ratios)


def test_an_unticked_box_shows_its_outline_on_the_dark_theme(
    qtbot: QtBot, restore_light: QApplication
) -> None:
    from PySide6.QtWidgets import QCheckBox

    apply_theme(restore_light, "dark")
    box = QCheckBox()
    qtbot.addWidget(box)
    box.resize(30, 30)
    box.show()
    qtbot.waitExposed(box)
    image = box.grab().toImage()
    base = build_palette(True).color(Role.Base)
    from PySide6.QtGui import QColor

    pixels = [QColor(image.pixel(x, y)) for x in range(image.width()) for y in range(image.height())]
    assert max(contrast_ratio(p, base) for p in pixels) >= 3.0, (
        "the box's outline stands out (WCAG non-text 3:1)"
    )
