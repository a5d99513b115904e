"""The Lab page against REAL llama-servers (SmolLM2 as "small" and "large"): a drill shows who
answered each fault, the summary, the verdicts and the timeline; Stop ends a drill with no fault
left; a comparison shows its verdict, table and plot; and the page fits 1024x700."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QFileDialog

from steward.backends.faults import Fault
from steward.config import Settings
from steward.engine.events import Completed
from steward.gui.lab_charts import OUTCOME_HEALTH
from steward.gui.pages.lab import LabPage
from steward.gui.theme import HEALTH_COLOURS, colours
from steward.lab.compare import ComparisonResult, Run, Side
from steward.lab.drill import DrillReport, ScenarioResult
from steward.service.drill_host import DrillEngine
from tests.gui.conftest import AppHarness, llama_settings, wait_until
from tests.support.llama import LlamaServer

MODEL = "SmolLM2-135M-Instruct.Q4_1"
SMALL, LARGE = f"small/{MODEL}", f"large/{MODEL}"


def lab_settings(small: LlamaServer, large: LlamaServer) -> Settings:
    """Both servers in the fallback chain, timeouts roomy enough for 2 busy cores."""
    return llama_settings(("small", small.url), ("large", large.url)).with_changes(
        {
            "routing.default_model": SMALL,
            "routing.fallback_chain": [SMALL, LARGE],
            "timeouts.first_token_s": 10.0,
            "timeouts.stall_s": 6.0,
        }
    )


def open_lab(h: AppHarness) -> LabPage:
    page = h.window.pages["lab"]
    assert isinstance(page, LabPage)
    h.window.resize(1024, 700)
    h.window.show_page("lab")
    page.tabs.setCurrentWidget(page.drill)  # as the user does: the Objectives tab comes first
    wait_until(h.loop, lambda: page.drill.targets.count() == 2 and page.compare.model_a.count() == 2)
    return page


def tick_only(page: LabPage, faults: set[str]) -> None:
    for row in range(page.drill.faults.count()):
        item = page.drill.faults.item(row)
        on = item.data(Qt.ItemDataRole.UserRole) in faults
        item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)


def cell(page: LabPage, row: int, column: int) -> str:
    item = page.drill.table.item(row, column)
    assert item is not None
    return item.text()


def assert_fits(h: AppHarness, page: LabPage) -> None:
    """No horizontal overflow at 1024x700: the window stays 1024 wide, no tab asks for more."""
    room = 1024 - h.window.sidebar.width()
    for index in range(page.tabs.count()):
        page.tabs.setCurrentIndex(index)
        wait_until(h.loop, lambda: True)
        tab = page.tabs.widget(index)
        assert tab.minimumSizeHint().width() <= room - 40, page.tabs.tabText(index)
    assert page.minimumSizeHint().width() <= room
    assert h.window.width() == 1024 and h.window.grab().width() == 1024


def test_drill_shows_who_answered_each_fault_the_summary_and_the_timeline(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer, llama_large: LlamaServer
) -> None:
    h = harness_factory(lab_settings(llama_small, llama_large))
    page = open_lab(h)
    targets = page.drill.targets
    assert [targets.item(i).checkState() for i in range(2)] == [Qt.CheckState.Checked] * 2, (
        "by default the drill fails the models of the fallback chain"
    )
    faults = page.drill.faults
    assert faults.count() == 7 and all(faults.item(i).checkState() == Qt.CheckState.Checked for i in range(7))
    assert faults.item(0).text() == "refused: refuses connections"
    tick_only(page, {"refused", "cut"})

    page.drill.run_button.click()
    assert page.running == "drill" and page.drill.stop_button.isEnabled()
    assert not page.compare.run_button.isEnabled(), "one experiment at a time"
    assert page.drill.progress.full_text().startswith("0 of 4")
    wait_until(h.loop, lambda: page.drill.table.rowCount() >= 1, timeout=120)
    assert re.match(r"[1-4] of 4: ✓ If (small|large)/", page.drill.progress.full_text())
    wait_until(h.loop, lambda: page.drill.report is not None, timeout=240)

    rows = [[cell(page, r, c) for c in range(4)] for r in range(4)]
    assert rows == [
        ["small", "refused", "✓ yes", "large"],
        ["small", "cut", "✓ yes", "large"],
        ["large", "refused", "✓ yes", "small"],
        ["large", "cut", "✓ yes", "small"],
    ]
    assert page.drill.summary.text() == "Your setup kept answering in all 4 scenarios."
    assert page.drill.summary.isVisible() and page.drill.summary.property("tone") == "success"
    assert all(cell(page, r, 5).startswith(("+", "−")) for r in range(4)), "added time against a clean answer"
    answered = page.drill.table.item(0, 2)
    assert answered is not None and answered.foreground().color() == colours(page.palette()).success
    assert page.drill.table.item(0, 0).toolTip() == SMALL  # type: ignore[union-attr]

    page.drill.table.selectRow(1)
    details = page.drill.details.toPlainText()
    assert details.startswith(f"If {SMALL} drops the connection mid-answer, you wait ")
    assert f"then {LARGE} answers" in details and "What the user saw:" in details
    timeline = page.drill.timeline
    assert timeline.lanes == [SMALL, LARGE] and timeline.selected == 1
    rescued = QColor(HEALTH_COLOURS[OUTCOME_HEALTH["rescued"]])
    assert timeline.bar_colours() == [rescued] * 4
    x0, x1 = timeline.bars.opts["x0"], timeline.bars.opts["x1"]
    assert list(x0) == sorted(x0) and all(b > a for a, b in zip(x0, x1, strict=True)), "bars along time"
    assert page.drill.export_button.isEnabled() and page.drill.saved_to.endswith(".json")

    page.tabs.setCurrentWidget(page.history)
    wait_until(h.loop, lambda: page.history.table.rowCount() == 1)
    assert page.history.table.item(0, 2).text() == "Your setup kept answering in all 4 scenarios."  # type: ignore[union-attr]
    assert_fits(h, page)


def test_stop_during_a_drill_ends_cleanly_with_no_fault_left(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer, llama_large: LlamaServer
) -> None:
    h = harness_factory(lab_settings(llama_small, llama_large))
    page = open_lab(h)
    service = h.bridge.service
    assert service is not None
    hosts: list[DrillEngine] = []
    original = service.drill_engine

    @asynccontextmanager
    async def recording() -> AsyncIterator[DrillEngine]:
        async with original() as host:
            hosts.append(host)
            yield host

    service.drill_engine = recording  # type: ignore[method-assign]
    page.drill.targets.item(1).setCheckState(Qt.CheckState.Unchecked)  # only small
    tick_only(page, {"hang"})
    page.drill.run_button.click()
    hung = lambda: hosts and any(b.fault is not None for b in hosts[0].backends.values())  # noqa: E731
    wait_until(h.loop, hung, timeout=60)
    faulted: Fault | None = next(b.fault for b in hosts[0].backends.values() if b.fault is not None)
    assert faulted is not None and faulted.kind.value == "hang"

    page.drill.stop_button.click()
    wait_until(h.loop, lambda: page.running is None, timeout=15)
    assert page.drill.progress.full_text() == "Stopped. Every fault was lifted; nothing was saved."
    assert page.drill.run_button.isEnabled() and not page.drill.stop_button.isEnabled()
    assert page.compare.run_button.isEnabled()
    assert service.lab.running is None
    assert all(b.fault is None for b in hosts[0].backends.values()), "no fault left behind"

    async def ask_small() -> Completed | None:
        request = service.build_request([("user", "Say hi.")], model=SMALL, max_tokens=8, fallback=False)
        events = [e async for e in service.ask(request)]
        return events[-1] if isinstance(events[-1], Completed) else None

    done = h.loop.run_until_complete(asyncio.wait_for(ask_small(), 60))
    assert done is not None and done.model == SMALL, "small answers for itself after the Stop"


def test_compare_shows_the_verdict_the_table_and_each_run(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer, llama_large: LlamaServer
) -> None:
    h = harness_factory(lab_settings(llama_small, llama_large))
    page = open_lab(h)
    page.tabs.setCurrentWidget(page.compare)
    tab = page.compare
    assert tab.model_a.currentText() == LARGE and tab.model_b.currentText() == SMALL  # sorted keys
    tab.model_a.setCurrentText(SMALL)
    tab.model_b.setCurrentText(LARGE)
    tab.set_prompts(["Say hi.", "Name a colour."], "test")
    tab.runs.setValue(2)
    tab.max_tokens.setValue(8)
    tab.temperature_b.setValue(0.0)
    tab.run_button.click()
    assert page.running == "compare" and tab.progress.full_text() == "0 of 8 requests…"
    assert not page.drill.run_button.isEnabled()
    wait_until(h.loop, lambda: tab.result is not None, timeout=240)

    result = tab.result
    assert result is not None and result.b.temperature == 0.0 and result.a.temperature is None
    assert len(result.runs) == 8
    verdict = tab.verdict.text()
    assert verdict.startswith(f"<b>{result.verdict[0]}</b>") and tab.verdict.isVisible()
    assert f"B: {LARGE} (temperature 0)" in verdict
    cells = [[tab.table.item(r, c).text() for c in range(5)] for r in range(tab.table.rowCount())]  # type: ignore[union-attr]
    assert [row[0] for row in cells] == ["TTFT", "total time", "tokens/s", "quality (0-10)", "success"]
    assert cells[4][1] == f"{sum(r.ok for r in result.runs if r.side == 'A')}/4"
    a, b = tab.plot.values
    assert a == result.values("A", "ttft_s") and b == result.values("B", "ttft_s") and len(a) == 4
    assert tab.export_button.isEnabled() and "saved to" in tab.progress.full_text()
    assert page.drill.run_button.isEnabled()
    assert_fits(h, page)


def saved_results(folder: Path) -> tuple[Path, Path, Path]:
    """A drill report, a comparison and a corrupt file in the Lab's folder, as runs leave them."""
    drill = DrillReport([SMALL], ["refused"], {SMALL: 0.4}, started_at=1_700_000_000.0)
    drill.scenarios.append(
        ScenarioResult(
            SMALL,
            "refused",
            True,
            LARGE,
            0.9,
            0.4,
            2,
            [f"{SMALL}: connection_refused"],
            [f"✗ {SMALL}: connection refused", f"✓ {LARGE}: answered"],
            0.3,
            f"If {SMALL} refuses connections, you wait 0.9 s, then {LARGE} answers.",
            [],
            1_700_000_000.5,
        )
    )
    runs = [Run(side, 0, i, True, 0.1 * (i + 1), 0.5, 40.0, 8.0) for i in range(3) for side in "AB"]
    compare = ComparisonResult(Side("A", SMALL), Side("B", LARGE), ("Hi",), runs, 1_700_000_100.0)
    compare.analyse()
    corrupt = folder / "drill-20200101-000000.json"
    folder.mkdir(parents=True, exist_ok=True)
    corrupt.write_text('{"targets": [', encoding="utf-8")
    return drill.save(folder), compare.save(folder), corrupt


def test_history_reopens_results_lists_an_unreadable_file_and_exports(
    harness_factory: Callable[[Settings], AppHarness],
    llama_small: LlamaServer,
    llama_large: LlamaServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h = harness_factory(lab_settings(llama_small, llama_large))
    page = open_lab(h)
    assert h.bridge.service is not None
    drill_path, compare_path, corrupt = saved_results(h.bridge.service.lab.folder)
    page.tabs.setCurrentWidget(page.history)
    wait_until(h.loop, lambda: page.history.table.rowCount() == 3)
    paths = [e.path for e in page.history.entries]
    assert paths.index(compare_path) < paths.index(drill_path), "newest first"
    bad = paths.index(corrupt)
    assert page.history.table.item(bad, 2).text().startswith("unreadable: ")  # type: ignore[union-attr]
    assert page.history.table.item(bad, 2).foreground().color() == colours(page.palette()).error  # type: ignore[union-attr]

    page.history.table.selectRow(paths.index(compare_path))
    page.history.open_button.click()
    wait_until(h.loop, lambda: page.compare.result is not None)
    assert page.tabs.currentWidget() is page.compare and page.compare.runs.value() == 3
    assert page.compare.verdict.text().startswith("<b>") and page.compare.table.rowCount() == 5
    page.tabs.setCurrentWidget(page.history)
    page.history.table.selectRow(paths.index(drill_path))
    page.history.open_button.click()
    wait_until(h.loop, lambda: page.drill.report is not None)
    assert page.tabs.currentWidget() is page.drill
    assert page.drill.summary.text() == "Your setup kept answering in all 1 scenarios."
    assert cell(page, 0, 3) == "large"

    target = tmp_path / "exported.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(target), ""))
    page.drill.export_button.click()
    wait_until(h.loop, target.exists)
    assert target.read_text(encoding="utf-8") == drill_path.read_text(encoding="utf-8")


def test_prompts_load_from_a_file_and_a_bad_file_is_said_plainly(
    harness_factory: Callable[[Settings], AppHarness],
    llama_small: LlamaServer,
    llama_large: LlamaServer,
    tmp_path: Path,
) -> None:
    h = harness_factory(lab_settings(llama_small, llama_large))
    page = open_lab(h)
    good = tmp_path / "prompts.txt"
    good.write_text("# two prompts\nSay hi.\n\nName a colour.\n", encoding="utf-8")
    page.load_prompts(str(good))
    wait_until(h.loop, lambda: page.compare.prompts == ("Say hi.", "Name a colour."))
    assert page.compare.prompts_label.full_text() == "2 prompts (prompts.txt)"
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n", encoding="utf-8")
    page.load_prompts(str(empty))
    wait_until(h.loop, lambda: page.compare.progress.property("tone") == "error")
    assert page.compare.progress.full_text() == f"{empty}: no prompts in it"
    assert page.compare.prompts == ("Say hi.", "Name a colour."), "the last good prompts stay"
    page.compare.model_b.setCurrentText(page.compare.model_a.currentText())
    page.compare.run_button.click()
    assert page.running is None and "A and B are the same" in page.compare.progress.full_text()


def test_stop_during_a_comparison_saves_nothing_and_frees_the_lab(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer, llama_large: LlamaServer
) -> None:
    h = harness_factory(lab_settings(llama_small, llama_large))
    page = open_lab(h)
    tab = page.compare
    tab.set_prompts(["Say hi."], "test")
    tab.runs.setValue(50)
    tab.max_tokens.setValue(8)
    tab.run_button.click()
    wait_until(h.loop, lambda: tab.progress.full_text().startswith("1 of 100: "), timeout=60)
    tab.stop_button.click()
    wait_until(h.loop, lambda: page.running is None, timeout=15)
    assert tab.progress.full_text() == "Stopped; nothing was saved." and tab.result is None
    assert tab.run_button.isEnabled() and page.drill.run_button.isEnabled()
    service = h.bridge.service
    assert service is not None and service.lab.running is None
    folder = service.lab.folder
    assert not folder.exists() or not list(folder.iterdir())
