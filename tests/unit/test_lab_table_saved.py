"""The comparison's measures table (shared by `steward compare` and the Lab page) and saved Lab
results read back exactly; a file that is not a complete result is refused with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from steward.lab.compare import ComparisonResult, Run, Side
from steward.lab.saved import UnreadableResult, load_result
from steward.lab.table import measure_rows, table


def result() -> ComparisonResult:
    runs = []
    for i in range(4):
        runs.append(Run("A", 0, i, True, 0.2 + i / 100, 1.0, 30.0 + i, 8.0))
        runs.append(Run("B", 0, i, True, 0.1 + i / 100, 0.5, 60.0 + i, 7.0))
    runs.append(Run("B", 0, 4, False, failure="first_token_timeout"))
    made = ComparisonResult(Side("A", "small/m"), Side("B", "large/m", 0.0), ("Hi",), runs, 1.0, 2.0)
    made.analyse()
    return made


def test_rows_show_times_in_seconds_and_rates_as_plain_numbers() -> None:
    rows = {row[0]: row for row in measure_rows(result())}
    assert rows["TTFT"][1:3] == ("215 ms", "115 ms")
    assert rows["tokens/s"][1:3] == ("31.5", "61.5"), "tokens per second is a rate, not a time"
    assert rows["success"][1:3] == ("4/4", "4/5")
    lines = table(result())
    assert lines[0].split() == ["measure", "A", "median", "B", "median", "B", "vs", "A", "(median)", "p"]
    assert len(lines) == 6


def test_a_saved_comparison_reads_back_equal(tmp_path: Path) -> None:
    made = result()
    again = load_result(made.save(tmp_path))
    assert isinstance(again, ComparisonResult)
    assert again.to_json() == made.to_json()


def test_results_started_in_the_same_second_each_keep_their_own_file(tmp_path: Path) -> None:
    first, second = result(), result()
    second.runs = second.runs[:2]
    second.analyse()
    paths = [first.save(tmp_path), second.save(tmp_path), first.save(tmp_path)]
    assert len(set(paths)) == 3, paths
    assert paths[1].name.endswith("-2.json") and paths[2].name.endswith("-3.json")
    assert len(load_result(paths[1]).to_json()["runs"]) == 2, "the second result was not overwritten"  # type: ignore[union-attr]
    assert load_result(paths[0]).to_json() == first.to_json()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{", "Expecting"),
        ("[1, 2]", "not a JSON object"),
        ('{"a": {"label": "A"}, "runs": []}', "not a complete Lab result"),
        ('{"hello": 1}', "neither a drill report nor a comparison"),
    ],
)
def test_what_is_not_a_lab_result_is_refused_with_the_reason(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "compare-x.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UnreadableResult, match=reason):
        load_result(path)
