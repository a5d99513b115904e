"""Charts people can read (issue 14, item 8): latency as points with gaps, a side legend that
scales to 50 models, units on the axes, no placeholder ticks on the first frame, labelled resource
series on a seconds/minutes axis scaled to the machine, and colours that follow a live theme switch."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from steward.gui.charts import LiveChart, ResourceChart, relative_time
from steward.gui.theme import apply_theme, colours


@pytest.fixture
def light(qapp: QApplication) -> Iterator[QApplication]:
    apply_theme(qapp, "light")
    yield qapp
    apply_theme(qapp, "light")


def latency_chart(qtbot: QtBot) -> LiveChart:
    chart = LiveChart("time to first token", "s")
    qtbot.addWidget(chart)
    chart.resize(500, 300)
    return chart


def test_latency_samples_are_points_joined_only_when_close(qtbot: QtBot, light: QApplication) -> None:
    chart = latency_chart(qtbot)
    now = time.time()
    # three requests 5 s apart, a quiet 3 minutes, then two more: the quiet time must be a gap
    for offset, value in ((-250, 0.2), (-245, 0.3), (-240, 0.25), (-60, 0.4), (-55, 0.35)):
        chart.add_point("small", now + offset, value)
    chart.redraw(now)
    curve = chart.curves["small"]
    assert curve.opts["symbol"] == "o", "every sample is drawn as a point"
    assert chart.gap_s == 15.0
    assert list(curve.opts["connect"]) == [True, True, False, True, False]
    _x, y = chart.visible_points("small")
    assert list(np.round(y, 2)) == [0.2, 0.3, 0.25, 0.4, 0.35]
    chart.set_range(3600)  # one hour: 3 minutes apart is "close" now (gap 180 s)
    chart.redraw(now)
    assert list(curve.opts["connect"]) == [True, True, True, True, False]


def test_first_frame_shows_the_real_time_range_and_no_placeholder_ticks(
    qtbot: QtBot, light: QApplication
) -> None:
    chart = latency_chart(qtbot)
    now = time.time()
    chart.redraw(now)
    left = chart.getAxis("left")
    assert left.style["showValues"] is False, "no 0.0 .. 1.0 ticks before there is data"
    assert chart.placeholder.isVisible() and chart.placeholder.toPlainText() == "no requests yet"
    (x0, x1), _y = chart.viewRange()
    assert x0 == pytest.approx(now - 300, abs=10) and x1 == pytest.approx(now, abs=10), (
        "today's clock, not 1970"
    )
    chart.add_point("small", now - 1, 0.3)
    chart.redraw(now)
    assert left.style["showValues"] is True
    assert not chart.placeholder.isVisible()
    _x, (y0, y1) = chart.viewRange()
    assert y0 == 0 and y1 == pytest.approx(0.3 * 1.15)


def test_axes_carry_units(qtbot: QtBot, light: QApplication) -> None:
    chart = latency_chart(qtbot)
    assert "time to first token (s)" in chart.getAxis("left").labelString()
    assert "time of day" in chart.getAxis("bottom").labelString()
    ram = ResourceChart("RAM used", "GiB", ["RAM used"], window_s=300)
    qtbot.addWidget(ram)
    assert "(GiB)" in ram.getAxis("left").labelString()
    ticks = ram.getAxis("bottom")._tickLevels[0]
    assert [label for _v, label in ticks] == ["2.5 min ago", "now"]
    assert [relative_time(v) for v in (0, -30, -120, -7200)] == ["now", "30 s ago", "2 min ago", "2 h ago"]


def test_legend_is_a_side_list_that_scales_to_50_models(qtbot: QtBot, light: QApplication) -> None:
    chart = latency_chart(qtbot)
    assert chart.legend.isHidden(), "no empty legend before the first series"
    now = time.time()
    keys = [f"server-{i}/a-rather-long-model-name-{i}.Q4_K_M" for i in range(50)]
    for i, key in enumerate(keys):
        chart.add_point(key, now - i, 0.1 + i / 100)
    chart.redraw(now)
    assert chart.getPlotItem().legend is None, "no legend box drawn over the data"
    assert chart.legend.keys() == keys
    assert not chart.legend.isHidden()
    colours_used = {chart.curve_colour(k).name() for k in keys}
    assert len(colours_used) == len(colours(chart.palette()).series), "series colours come from the theme"
    item = chart.legend.item(3)
    assert item.toolTip() == keys[3], "the full name is in the tooltip when elided"
    item.setCheckState(Qt.CheckState.Unchecked)
    assert not chart.curves[keys[3]].isVisible(), "unticking a model hides its points"


def test_resource_chart_labels_its_series_and_scales_to_the_machine(
    qtbot: QtBot, light: QApplication
) -> None:
    ram = ResourceChart("RAM used", "GiB", ["RAM used"], window_s=120)
    cpu = ResourceChart("CPU", "%", ["CPU"], window_s=120)
    for chart in (ram, cpu):
        qtbot.addWidget(chart)
    times = np.arange(1000.0, 1200.0)  # 200 s of samples; only the last 120 s are shown
    ram.show_series(times, np.full(200, 1.1), y_max=24.0)
    cpu.show_series(times, np.linspace(0, 42, 200), y_max=100.0)
    assert ram.title_text() == "RAM used: 1.1 of 24 GiB"
    assert cpu.title_text() == "CPU: 42 %"
    _x, (y0, y1) = ram.viewRange()
    assert y0 == pytest.approx(-0.48) and y1 == pytest.approx(24.48), "RAM up to the machine total"
    x, _y = ram.curves["RAM used"].getData()
    assert x is not None and x[0] == -120 and x[-1] == 0, "x is seconds before now"


def test_charts_recolour_when_the_theme_switches_live(qtbot: QtBot, light: QApplication) -> None:
    chart = latency_chart(qtbot)
    ram = ResourceChart("RAM used", "GiB", ["RAM used"])
    qtbot.addWidget(ram)
    chart.add_point("small", time.time(), 0.2)
    chart.redraw(time.time())
    for chart_ in (chart, ram):
        chart_.show()
    light_series = chart.curve_colour("small").name()
    apply_theme(light, "dark")
    light.processEvents()  # Qt delivers the palette change to hidden/unpolished widgets lazily
    dark = colours()
    assert dark.dark
    for chart_ in (chart, ram):
        assert chart_.getAxis("left").textPen().color().name() == dark.chart_axis.name()
        assert chart_.getAxis("bottom").pen().color().name() == dark.chart_axis.name()
        background = chart_.grab().toImage().pixelColor(chart_.width() // 2, chart_.height() // 2)
        assert background.lightness() < 80, "the cached light background is dropped"
    assert chart.curve_colour("small").name() == dark.series[0].name() != light_series
    assert ram.getPlotItem().titleLabel.opts["color"] == dark.text.name()
