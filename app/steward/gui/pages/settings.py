"""Settings page: every setting, grouped, generated from the `Settings` model.

Edits are checked against the model as they are typed (through the bridge, never applied):
a refused value is marked in red with the reason next to its field and Apply stays disabled.
Apply makes the changes live at once and saves them; Revert drops them; every group has its
own "Restore defaults" (which, like any edit, takes effect on Apply).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from steward.config import Settings
from steward.config.labels import label
from steward.config.rules import fields_of
from steward.gui.bridge import Bridge
from steward.gui.settings_fields import GroupSpec, build_groups, get_path
from steward.gui.settings_form import FieldEditor
from steward.gui.theme import apply_theme, colours, set_tone

APPLIES_TEXT = {
    "live": "Changes take effect as soon as you press Apply.",
    "next scan": "Saved on Apply; used from the next scan (Re-discover on the Servers page) and start.",
    "next start": "Saved on Apply; takes effect when Steward next starts.",
}


def plural(count: int, noun: str) -> str:
    """ "1 problem", "3 problems"."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


class SettingsPage(QWidget):
    """Grouped settings form with inline validation, Apply, Revert and per-group defaults."""

    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.groups: tuple[GroupSpec, ...] = build_groups()
        self.editors: dict[str, FieldEditor] = {}
        self.group_errors: dict[str, QLabel] = {}
        self.restore_buttons: dict[str, QPushButton] = {}
        self.problems: list[tuple[str, str]] = []
        self._baseline: Settings | None = None
        self._theme: str | None = None

        self.nav = QListWidget()
        self.nav.setObjectName("settingsNav")
        self.nav.setFixedWidth(190)
        self.nav.setStyleSheet("QListWidget#settingsNav::item { padding: 5px 8px; }")
        self.stack = QStackedWidget()
        for group in self.groups:
            self.nav.addItem(group.title)
            self.stack.addWidget(self._group_page(group))
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.nav.setCurrentRow(0)

        self.disk_notice = QLabel()
        self.disk_notice.setObjectName("settingsDiskNotice")
        self.disk_notice.setWordWrap(True)
        self.disk_notice.hide()
        self.keep_button = QPushButton("Keep Steward's settings")
        self.keep_button.setToolTip(
            "Write the settings in effect over the file on disk (the outside edit is lost)."
        )
        self.keep_button.clicked.connect(self.keep_over_disk)
        self.keep_button.hide()
        self.status = QLabel("Waiting for the engine to start…")
        self.status.setObjectName("settingsStatus")
        self.status.setWordWrap(True)
        self.revert_button = QPushButton("Revert")
        self.revert_button.setToolTip("Drop every change not yet applied.")
        self.apply_button = QPushButton("Apply")
        self.apply_button.setDefault(True)
        self.apply_button.setToolTip("Make the changes live now (no restart) and save them.")
        self.revert_button.clicked.connect(self.revert)
        self.apply_button.clicked.connect(self.apply)
        bar = QHBoxLayout()
        bar.addWidget(self.status, 1)
        bar.addWidget(self.revert_button)
        bar.addWidget(self.apply_button)

        body = QHBoxLayout()
        body.addWidget(self.nav)
        body.addWidget(self.stack, 1)
        disk = QHBoxLayout()
        disk.addWidget(self.disk_notice, 1)
        disk.addWidget(self.keep_button)
        layout = QVBoxLayout(self)
        layout.addLayout(disk)
        layout.addLayout(body, 1)
        layout.addLayout(bar)

        self.setEnabled(False)
        self._fill(Settings())
        self._update_state()
        bridge.settings_changed.connect(self.load)
        bridge.engine_event.connect(self._on_event)
        if bridge.settings is not None:
            self.load(bridge.settings)

    def _on_event(self, event: object) -> None:
        """settings.toml changed on disk: say what happened; a refused edit offers to keep ours."""
        if type(event).__name__ != "SettingsChangedOnDisk":
            return
        describe = getattr(event, "describe", None)
        self.disk_notice.setText(describe() if callable(describe) else "settings.toml changed on disk")
        refused = not getattr(event, "applied", True)
        set_tone(self.disk_notice, "warning" if refused else "muted")
        self.disk_notice.show()
        self.keep_button.setVisible(refused)

    def keep_over_disk(self) -> None:
        self.bridge.keep_settings_over_disk()
        self.keep_button.hide()
        self.disk_notice.setText("Steward's settings were written over the outside edit.")
        set_tone(self.disk_notice, "muted")

    # --- building ---------------------------------------------------------------------------

    def _group_page(self, group: GroupSpec) -> QScrollArea:
        inner = QWidget()
        inner.setObjectName(f"settingsGroup:{group.key}")
        title = QLabel(f"<span style='font-size:15px'><b>{group.title}</b></span>")
        restore = QPushButton("Restore defaults")
        restore.setToolTip(f"Put every {group.title.lower()} setting back to its default (then Apply).")
        restore.clicked.connect(lambda _=False, key=group.key: self.restore_defaults(key))
        editable = any(f.kind != "readonly" for f in group.fields)
        restore.setEnabled(editable)
        self.restore_buttons[group.key] = restore
        head = QHBoxLayout()
        head.addWidget(title)
        head.addStretch(1)
        head.addWidget(restore)
        about = QLabel(f"{group.description} {APPLIES_TEXT.get(group.applies, '')}")
        about.setWordWrap(True)
        about.setObjectName("groupDescription")
        error = QLabel()
        error.setWordWrap(True)
        set_tone(error, "error")
        error.hide()
        self.group_errors[group.key] = error
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setVerticalSpacing(10)
        for spec in group.fields:
            editor = FieldEditor(spec)
            editor.changed.connect(self._update_state)
            self.editors[spec.path] = editor
            label = QLabel(spec.label)
            label.setToolTip(spec.tooltip)
            form.addRow(label, editor)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        layout = QVBoxLayout(inner)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addLayout(head)
        layout.addWidget(about)
        layout.addWidget(error)
        layout.addWidget(line)
        layout.addLayout(form)
        layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(inner)
        return scroll

    # --- reading ----------------------------------------------------------------------------

    def editor(self, path: str) -> FieldEditor:
        return self.editors[path]

    def show_group(self, key: str) -> None:
        keys = [g.key for g in self.groups]
        self.nav.setCurrentRow(keys.index(key))

    def changes(self) -> tuple[dict[str, object], dict[str, str]]:
        """(path -> new value for every edited field, path -> reason for unreadable input)."""
        changed: dict[str, object] = {}
        unreadable: dict[str, str] = {}
        if self._baseline is None:
            return changed, unreadable
        for path, editor in self.editors.items():
            if not editor.editable:
                continue
            value = editor.value()
            if editor.parse_error is not None:
                unreadable[path] = editor.parse_error
            elif not editor.same_as(get_path(self._baseline, path)):
                changed[path] = value
        return changed, unreadable

    # --- actions ----------------------------------------------------------------------------

    def load(self, settings: Settings) -> None:
        """Show `settings`; fields the user is still editing keep their edits."""
        old = self._baseline
        for path, editor in self.editors.items():
            if old is None or not editor.editable or editor.same_as(get_path(old, path)):
                editor.set_value(get_path(settings, path))
        self._baseline = settings
        self.setEnabled(True)
        if settings.ui.theme != self._theme:
            self._theme = settings.ui.theme
            app = QApplication.instance()
            if isinstance(app, QApplication):
                apply_theme(app, settings.ui.theme)
        self._update_state()

    def _fill(self, settings: Settings) -> None:
        for path, editor in self.editors.items():
            editor.set_value(get_path(settings, path))

    def revert(self) -> None:
        if self._baseline is not None:
            self._fill(self._baseline)
        self._update_state()

    def restore_defaults(self, key: str) -> None:
        group = next(g for g in self.groups if g.key == key)
        for spec in group.fields:
            if spec.kind != "readonly":
                self.editors[spec.path].set_value(spec.default)
        self._update_state()

    def apply(self) -> None:
        changed, unreadable = self.changes()
        if not changed or unreadable:
            return
        problems = self.bridge.apply_settings(changed)
        if problems:
            self._show_problems(problems, unreadable)
            return
        self.status.setText(f"Applied {plural(len(changed), 'change')}: in effect now, saving…")
        self.apply_button.setEnabled(False)

    # --- validation -------------------------------------------------------------------------

    def _update_state(self) -> None:
        changed, unreadable = self.changes()
        problems: list[tuple[str, str]] = []
        if changed and self._baseline is not None:
            _, problems = self.bridge.validate_settings(changed)
        self._show_problems(problems, unreadable)
        count = len(self.problems)
        self.apply_button.setEnabled(bool(changed) and count == 0 and self.bridge.runtime is not None)
        self.revert_button.setEnabled(bool(changed) or bool(unreadable))
        if count:
            self.status.setText(
                f"<span style='color:{colours().error.name()}'>{plural(count, 'problem')}: fix the fields marked in "
                "red; nothing is applied until then.</span>"
            )
        elif changed:
            self.status.setText(f"{plural(len(changed), 'unapplied change')}.")
        elif self._baseline is not None:
            self.status.setText("All settings are applied and saved.")
        self._mark_nav(set(changed))

    def _show_problems(self, problems: list[tuple[str, str]], unreadable: dict[str, str]) -> None:
        """Every problem counted once; a field's own problem beside it, a rule's above its group
        with each field the rule names marked (unmarked again once the rule holds)."""
        self.problems = [*unreadable.items(), *problems]
        by_field: dict[str, list[str]] = {path: [reason] for path, reason in unreadable.items()}
        by_group: dict[str, list[str]] = {}
        involved: set[str] = set()
        for path, reason in problems:
            target = self._field_for(path)
            if target is not None:
                by_field.setdefault(target, []).append(reason)
                continue
            involved.update(p for p in fields_of(path) if p in self.editors)
            group = next((g for g in self.groups if g.owns(path)), None)
            key = group.key if group is not None else self.groups[0].key
            by_group.setdefault(key, []).append(
                reason if group is not None or not path else f"{label(path)}: {reason}"
            )
        for path, editor in self.editors.items():
            editor.show_error("; ".join(by_field.get(path, [])) or None, involved=path in involved)
        for key, error in self.group_errors.items():
            text = "; ".join(by_group.get(key, []))
            error.setText(text)
            error.setVisible(bool(text))

    def _field_for(self, path: str) -> str | None:
        matches = [p for p in self.editors if path == p or path.startswith((p + "[", p + "."))]
        return max(matches, key=len) if matches else None

    def _mark_nav(self, changed: set[str]) -> None:
        wrong = {p for p, _ in self.problems}
        for row, group in enumerate(self.groups):
            item = self.nav.item(row)
            bad = any(group.owns(p) for p in wrong)
            dirty = any(group.owns(p) for p in changed)
            item.setText(group.title + (" ⚠" if bad else " •" if dirty else ""))
            item.setToolTip("has problems" if bad else "has unapplied changes" if dirty else "")
