"""Dialogs of the Servers page: add or edit a remote endpoint (its API key goes to the OS keyring;
"Test connection" asks the typed address what answers) and add a managed llama-server profile
(one model file, or a router over a folder of models). Each checks its input through the bridge
and shows the reason next to the field it concerns; it only closes once the bridge took the
request."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from steward.config.app_groups import EndpointConfig
from steward.gui.theme import set_tone
from steward.service.endpoints import EndpointCheck

Problems = list[tuple[str, str]]


class _CheckedDialog(QDialog):
    """A form whose rows each have an inline error line; OK runs `check` and closes only when it
    finds no problems (each dialog passes its own check, which asks the bridge)."""

    def __init__(self, title: str, check: Callable[[], Problems], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._check = check
        self.setWindowTitle(title)
        self.setMinimumWidth(520)
        self.form = QFormLayout()
        self.errors: dict[str, QLabel] = {}
        self.general = self._error_label()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.general)
        layout.addWidget(self.buttons)

    @staticmethod
    def _error_label() -> QLabel:
        label = QLabel()
        label.setWordWrap(True)
        set_tone(label, "error")
        label.hide()
        return label

    def add_row(self, field: str, label: str, widget: QWidget, tooltip: str) -> QWidget:
        """Add a labelled row with its inline error line; returns the row's field box (to hide it)."""
        widget.setToolTip(tooltip)
        error = self._error_label()
        self.errors[field] = error
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(widget)
        column.addWidget(error)
        self.form.addRow(label, box)
        return box

    def show_problems(self, problems: Problems) -> None:
        by_field: dict[str, list[str]] = {}
        general: list[str] = []
        for path, reason in problems:
            field = path.split(".", 1)[0].split("[", 1)[0]
            if field in self.errors:
                by_field.setdefault(field, []).append(reason)
            else:
                general.append(f"{path}: {reason}" if path else reason)
        for field, label in self.errors.items():
            label.setText("; ".join(by_field.get(field, [])))
            label.setVisible(field in by_field)
        self.general.setText("; ".join(general))
        self.general.setVisible(bool(general))
        self.adjustSize()  # wrapped reasons need the room; never clip them

    def submit(self) -> None:
        problems = self._check()
        self.show_problems(problems)
        if not problems:
            self.accept()


TestFn = Callable[[str, str, str, Callable[[EndpointCheck], None]], None]
"""(kind, url, api key, done): ask the address what answers (the bridge runs it in the background)."""

KINDS = (
    ("openai", "OpenAI-compatible (LM Studio, vLLM, ...)"),
    ("ollama", "Ollama"),
    ("llamacpp", "llama.cpp llama-server"),
)


def check_text(check: EndpointCheck) -> str:
    """One line saying what answered ("✓ llama.cpp b4xxx: … up, 1 model: …") or why nothing did."""
    return ("✓ " if check.ok else "✗ ") + check.summary


class _EndpointDialog(_CheckedDialog):
    """The fields of an endpoint (id, kind, URL, API key) and a "Test connection" button that
    asks the typed address what answers, before anything is saved."""

    def __init__(
        self, title: str, check: Callable[[], Problems], test: TestFn, parent: QWidget | None = None
    ) -> None:
        super().__init__(title, check, parent)
        self._test = test
        self.id_edit = QLineEdit()
        self.id_edit.setPlaceholderText("e.g. lmstudio (letters, digits, . _ -)")
        self.kind = QComboBox()
        for kind, text in KINDS:
            self.kind.addItem(text, kind)
        self.url = QLineEdit()
        self.url.setPlaceholderText("http://127.0.0.1:1234")
        self.api_key = QLineEdit()
        self.api_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.api_key.setPlaceholderText("optional; stored in the OS keyring")
        self.add_row("id", "Id", self.id_edit, "The server part of 'server/model' keys; must be unique.")
        self.add_row("kind", "Kind", self.kind, "Which protocol the server speaks.")
        self.add_row("base_url", "URL", self.url, "http:// or https:// address of the server.")
        self.add_row(
            "api_key_ref",
            "API key",
            self.api_key,
            "Kept in the OS keyring (never in the settings file or the logs); leave empty if none.",
        )
        self.test_button = QPushButton("Test connection")
        self.test_button.setToolTip("Ask the address what answers there (nothing is saved).")
        self.test_button.clicked.connect(self.run_test)
        self.test_result = QLabel()
        self.test_result.setObjectName("testResult")
        self.test_result.setWordWrap(True)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.last_check: EndpointCheck | None = None
        row = QHBoxLayout()
        row.addWidget(self.test_button)
        row.addWidget(self.test_result, 1)
        self.layout().insertLayout(1, row)  # type: ignore[union-attr]

    def values(self) -> tuple[str, str, str, str]:
        return (
            self.id_edit.text().strip(),
            str(self.kind.currentData()),
            self.url.text().strip(),
            self.api_key.text(),
        )

    def run_test(self) -> None:
        _, kind, url, key = self.values()
        if not url:
            self.show_problems([("base_url", "type the address to test")])
            return
        self.test_button.setEnabled(False)
        self.test_result.setText(f"Asking {url} …")
        set_tone(self.test_result, None)
        self._test(kind, url, key, self.show_check)

    def show_check(self, check: EndpointCheck) -> None:
        self.last_check = check
        self.test_button.setEnabled(True)
        self.test_result.setText(check_text(check))
        set_tone(self.test_result, "success" if check.ok else "error")
        self.test_result.setToolTip("\n".join(check.models))
        self.adjustSize()


class AddEndpointDialog(_EndpointDialog):
    """A remote or local server by URL; the API key is stored in the OS keyring, not the settings."""

    def __init__(
        self,
        add: Callable[[str, str, str, str], Problems],
        test: TestFn,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Add endpoint", self.problems_of_submit, test, parent)
        self._add = add

    def problems_of_submit(self) -> Problems:
        return self._add(*self.values())


class EditEndpointDialog(_EndpointDialog):
    """Change a configured endpoint's kind, URL, API key or whether it is used; its id stays."""

    def __init__(
        self,
        endpoint: EndpointConfig,
        edit: Callable[[str, str, str, str | None, bool], Problems],
        test: TestFn,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(f"Edit endpoint {endpoint.id}", self.problems_of_submit, test, parent)
        self._edit = edit
        self.has_key = bool(endpoint.api_key_ref)
        self.id_edit.setText(endpoint.id)
        self.id_edit.setReadOnly(True)
        self.id_edit.setToolTip("The id names the endpoint's models; remove and add it again to rename it.")
        self.kind.setCurrentIndex(max(0, self.kind.findData(endpoint.kind)))
        self.url.setText(endpoint.base_url)
        self.api_key.setPlaceholderText(
            "unchanged (a key is stored in the keyring)"
            if self.has_key
            else "optional; stored in the OS keyring"
        )
        self.forget_key = QCheckBox("Forget the stored API key")
        self.forget_key.setVisible(self.has_key)
        self.enabled = QCheckBox("Route requests to this endpoint")
        self.enabled.setChecked(endpoint.enabled)
        self.add_row("enabled", "", self.enabled, "Off keeps the entry but stops using the server.")
        if self.has_key:
            self.add_row("forget_key", "", self.forget_key, "Remove the key from the OS keyring on save.")

    def problems_of_submit(self) -> Problems:
        endpoint_id, kind, url, key = self.values()
        api_key: str | None = key or None  # empty: keep the stored key
        if self.forget_key.isChecked():
            api_key = ""
        return self._edit(endpoint_id, kind, url, api_key, self.enabled.isChecked())


SERVES = (
    ("one", "One model (a GGUF file)"),
    ("router", "Router: a folder of models, loaded on request"),
)


class AddManagedDialog(_CheckedDialog):
    """A llama-server process Steward starts, watches and restarts: serving one GGUF file, or a
    router over a folder of GGUF files (each model loaded on request, at most N at once)."""

    def __init__(self, add: Callable[[dict[str, object]], Problems], parent: QWidget | None = None) -> None:
        super().__init__("Add managed llama-server", self.problems_of_submit, parent)
        self._add = add
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. qwen-coder (letters, digits, . _ -)")
        self.serves = QComboBox()
        for value, text in SERVES:
            self.serves.addItem(text, value)
        self.model_path = QLineEdit()
        self.model_path.setPlaceholderText("empty = the embedded SmolLM2 model")
        self.models_dir = QLineEdit()
        self.models_dir.setPlaceholderText("a folder holding .gguf files")
        self.models_preset = QLineEdit()
        self.models_preset.setPlaceholderText("optional: an INI file of per-model arguments")
        self.models_max = self._spin(0, 64, 4, "no limit")
        self.ctx = self._spin(0, 1_048_576, 4096, "model's own")
        self.port = self._spin(0, 65535, 0, "pick a free port")
        self.threads = self._spin(0, 1024, 0, "server decides")
        self.gpu_layers = self._spin(-1, 999, 0, "server default")
        self.sleep_idle = self._spin(0, 86_400, 0, "never")
        self.sleep_idle.setSuffix(" s")
        self.add_row("name", "Name", self.name, "Unique name; the server part of its models' keys.")
        self.add_row("serves", "Serves", self.serves, "One model per process, or a router over a folder.")
        self._one_rows = [
            self.add_row(
                "model_path",
                "GGUF file",
                self._with_browse(self.model_path, self._browse),
                "The model file llama-server loads.",
            )
        ]
        self._router_rows = [
            self.add_row(
                "models_dir",
                "Models folder",
                self._with_browse(self.models_dir, self._browse_folder),
                "Every .gguf file in it (or in a sub-folder) is one model; loaded when a request names it.",
            ),
            self.add_row(
                "models_max",
                "Loaded at once",
                self.models_max,
                "At most this many models in memory; loading one more unloads the least recently used.",
            ),
            self.add_row(
                "models_preset",
                "Presets",
                self._with_browse(self.models_preset, self._browse_preset),
                "Optional llama-server preset file: per-model arguments ([model name] sections).",
            ),
        ]
        self.add_row("ctx_size", "Context", self.ctx, "Context window in tokens (0 = the model's own).")
        self.add_row("port", "Port", self.port, "Loopback port to listen on (0 = pick a free one).")
        self.add_row("threads", "Threads", self.threads, "CPU threads (0 = let llama-server decide).")
        self.add_row(
            "gpu_layers", "GPU layers", self.gpu_layers, "Layers offloaded to the GPU (-1 = server default)."
        )
        self.add_row(
            "sleep_idle_s",
            "Sleep when idle",
            self.sleep_idle,
            "Seconds without requests after which a model is unloaded (woken by the next request).",
        )
        self.serves.currentIndexChanged.connect(self._serves_changed)
        self._serves_changed()

    @property
    def router(self) -> bool:
        return self.serves.currentData() == "router"

    def _serves_changed(self) -> None:
        for box in self._one_rows:
            self.form.setRowVisible(box, not self.router)
        for box in self._router_rows:
            self.form.setRowVisible(box, self.router)
        self.adjustSize()

    @staticmethod
    def _with_browse(edit: QLineEdit, browse: Callable[[], None]) -> QWidget:
        button = QPushButton("Browse…")
        button.clicked.connect(browse)
        row_widget = QWidget()
        row = QHBoxLayout(row_widget)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit, 1)
        row.addWidget(button)
        return row_widget

    @staticmethod
    def _spin(low: int, high: int, value: int, special: str) -> QSpinBox:
        box = QSpinBox()
        box.setRange(low, high)
        box.setValue(value)
        box.setSpecialValueText(special)
        box.setMinimumWidth(160)
        return box

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a GGUF model", "", "GGUF models (*.gguf);;All files (*)"
        )
        if path:
            self.model_path.setText(path)

    def _browse_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a folder of GGUF models")
        if path:
            self.models_dir.setText(path)

    def _browse_preset(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a preset file", "", "Presets (*.ini);;All files (*)"
        )
        if path:
            self.models_preset.setText(path)

    def values(self) -> dict[str, object]:
        """The profile as typed: the fields of the chosen mode only."""
        values: dict[str, object] = {
            "name": self.name.text().strip(),
            "ctx_size": self.ctx.value(),
            "port": self.port.value(),
            "threads": self.threads.value(),
            "gpu_layers": self.gpu_layers.value(),
            "sleep_idle_s": self.sleep_idle.value(),
        }
        if self.router:
            values["models_dir"] = self.models_dir.text().strip()
            values["models_preset"] = self.models_preset.text().strip()
            values["models_max"] = self.models_max.value()
        else:
            values["model_path"] = self.model_path.text().strip()
        return values

    def problems_of_submit(self) -> Problems:
        if self.router and not (self.models_dir.text().strip() or self.models_preset.text().strip()):
            return [("models_dir", "choose the folder of models the router serves")]
        return self._add(self.values())
