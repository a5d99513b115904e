"""Item 7 of issue 14: the Settings page speaks the user's language. Problems name fields by their
label, the fields a rule involves are marked (and unmarked when fixed), every problem is counted,
and every enumeration is a drop-down that cannot hold "foo"."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Literal, get_args, get_origin

from PySide6.QtWidgets import QComboBox, QLineEdit

from steward.config import Settings
from steward.config.app_groups import PAGE_NAMES
from steward.config.patch import strip_annotation
from steward.gui.settings_fields import build_groups
from tests.gui.conftest import AppHarness, llama_settings
from tests.gui.test_settings_page import settings_page, spin
from tests.support.llama import LlamaServer


def test_cross_field_and_field_problems_are_all_counted_named_by_label_and_marked(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url)))
    page = settings_page(h)
    page.show_group("reliability")
    spin(page, "breaker.reset_timeout_s").setValue(500.0)
    spin(page, "breaker.max_reset_timeout_s").setValue(300.0)
    spin(page, "breaker.failure_threshold").setValue(0)  # a field problem in the same group
    spin(page, "timeouts.connect_s").setValue(-1.0)  # and one in another group

    group_error = page.group_errors["reliability"]
    assert group_error.isVisible()
    assert group_error.text() == (
        "Max reset timeout (300 s) must not be smaller than Reset timeout (500 s): the cap would shrink the timeout"
    )
    assert "_s" not in group_error.text() and "breaker" not in group_error.text()
    assert "3 problems" in page.status.text()
    assert not page.apply_button.isEnabled()
    cap, base = page.editor("breaker.max_reset_timeout_s"), page.editor("breaker.reset_timeout_s")
    assert cap.marked and base.marked, "both fields of the broken rule are marked"
    # the frame around the field carries the error tone (a border from the theme's stylesheet,
    # re-coloured by a theme switch); the field itself keeps its own style (spin box arrows)
    assert cap.frame.property("tone") == "error" and cap.widget.styleSheet() == "", (
        "marked around, arrows kept"
    )
    assert cap.error_label.isVisible() and "problem shown above" in cap.error_label.text()
    assert page.editor("breaker.failure_threshold").marked
    assert not page.editor("breaker.success_threshold").marked

    spin(page, "breaker.max_reset_timeout_s").setValue(600.0)  # the rule holds again
    assert not cap.marked and not base.marked and cap.frame.property("tone") == ""
    assert not cap.error_label.isVisibleTo(page) and not group_error.isVisibleTo(page)
    assert "2 problems" in page.status.text()
    spin(page, "breaker.failure_threshold").setValue(3)
    spin(page, "timeouts.connect_s").setValue(2.0)
    assert "problem" not in page.status.text() and page.apply_button.isEnabled()


def test_every_enumeration_in_the_schema_is_a_drop_down_of_exactly_its_values(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer
) -> None:
    enumerations: dict[str, tuple[str, ...]] = {}
    for group in build_groups():
        for root in group.roots:
            info = Settings.model_fields[root]
            model = strip_annotation(info.annotation)
            fields = model.model_fields.items() if hasattr(model, "model_fields") else [(None, info)]
            for name, field in fields:
                plain = strip_annotation(field.annotation)
                path = f"{root}.{name}" if name else root
                if get_origin(plain) is Literal:
                    enumerations[path] = tuple(str(a) for a in get_args(plain))
                elif isinstance(plain, type) and issubclass(plain, enum.Enum):
                    enumerations[path] = tuple(str(m.value) for m in plain)
    assert {"strategy", "ui.theme", "ui.last_page", "context.policy", "logging.level"} <= set(enumerations)

    h = harness_factory(llama_settings(("small", llama_small.url)))
    page = settings_page(h)
    for path, values in enumerations.items():
        widget = page.editor(path).widget
        assert isinstance(widget, QComboBox) and not isinstance(widget, QLineEdit), path
        assert not widget.isEditable(), f"{path} accepts typed text"
        assert tuple(widget.itemData(i) for i in range(widget.count())) == values, path
    start = page.editor("ui.last_page").widget
    assert isinstance(start, QComboBox)
    assert [start.itemText(i) for i in range(start.count())] == [n.capitalize() for n in PAGE_NAMES]
    assert start.currentData() == "dashboard"
    _, problems = h.bridge.validate_settings({"ui.last_page": "foo"})
    assert problems and problems[0][0] == "ui.last_page"
