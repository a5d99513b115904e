"""The Models page's "On this disk" tab: every GGUF file Steward found (its own, llama.cpp's cache,
LM Studio, Jan, the Hugging Face cache, Ollama, the user's folders) with its architecture,
parameters, quantization, trained context, size and the largest context that fits this machine.

"Serve" turns the selected file into a managed llama-server in one click (the service picks the
context from the fit, a unique name and a free port; the server then shows on the Servers page).
"Add folder…" adds a folder to scan. Scans run in a worker thread (through the bridge); the
first one starts when the tab is first shown, and a progress bar shows while one runs.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from steward.gui.bridge import Bridge
from steward.gui.tables import read_only_table
from steward.gui.theme import colours, set_tone
from steward.hardware.context_fit import context_words
from steward.hardware.disk_models import DiskModel, DiskScan, params_text
from steward.hardware.gpu import format_bytes

COLUMNS = ["Model", "Found in", "Arch", "Params", "Quant", "Trained", "Size", "Fits here"]


def cells(model: DiskModel) -> list[str]:
    return [
        model.name,
        model.source,
        model.architecture or "—",
        params_text(model.parameters),
        model.quant or "—",
        context_words(model.trained_context) if model.trained_context else "—",
        format_bytes(model.size_bytes),
        model.fit_text,
    ]


def details(model: DiskModel) -> str:
    """The row's tooltip: where the file is, each target's largest context, or the read error."""
    lines = [model.path]
    if model.parts > 1:
        lines.append(f"split into {model.parts} parts (sizes and fit count all of them)")
    if model.also_named:
        lines.append("also named: " + ", ".join(model.also_named))
    if model.error is not None:
        lines.append(f"cannot be read: {model.error}")
    for fit in model.fits:
        what = f"up to {fit.context:,} tokens" if fit.context else "won't fit"
        lines.append(f"{fit.target}: {what}")
    if model.trained_context and model.best and model.best.context == model.trained_context:
        lines.append(f"({model.trained_context:,} tokens is its trained context, the most it is made for)")
    return "\n".join(lines)


class DiskModelsPanel(QWidget):
    """The table of model files on disk, with Rescan, Add folder… and Serve."""

    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.models: list[DiskModel] = []
        self.scanning = False
        self.scanned = False
        self.scanned_folders: tuple[str, ...] = ()
        self.table = read_only_table("diskModelsTable", COLUMNS, single_selection=True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        self.rescan_button = QPushButton("Rescan")
        self.rescan_button.setToolTip("Look for model files again (only new or changed files are read).")
        self.add_folder_button = QPushButton("Add folder…")
        self.add_folder_button.setToolTip("Scan one more folder for GGUF files (saved in the settings).")
        self.serve_button = QPushButton("Serve")
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy: a scan's length is unknown up front
        self.progress.setMaximumWidth(160)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.status = QLabel("Not scanned yet.")
        self.status.setObjectName("hint")
        self.status.setWordWrap(True)
        self.result = QLabel()
        self.result.setObjectName("diskServeResult")
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result.hide()
        actions = QHBoxLayout()
        self.folders_button = QPushButton("Your folders")
        self.folders_button.setToolTip("The folders you added; pick one to stop scanning it.")
        self.folders_menu = QMenu(self.folders_button)
        self.folders_menu.aboutToShow.connect(self._fill_folders_menu)
        self.folders_button.setMenu(self.folders_menu)
        for button in (self.serve_button, self.rescan_button, self.add_folder_button, self.folders_button):
            actions.addWidget(button)
        actions.addWidget(self.progress)
        actions.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addLayout(actions)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.result)
        self.rescan_button.clicked.connect(self.rescan)
        self.add_folder_button.clicked.connect(self.choose_folder)
        self.serve_button.clicked.connect(self.serve_selected)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        bridge.models.disk_models_ready.connect(self.on_scan)
        bridge.settings_changed.connect(self._settings_changed)
        self._selection_changed()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self.models:
            self._fill()  # the fit colours follow a theme switch

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self.scanned and not self.scanning:
            self.rescan()

    def _folders(self) -> tuple[str, ...]:
        settings = self.bridge.settings
        return tuple(settings.discovery.model_folders) if settings is not None else ()

    def _fill_folders_menu(self) -> None:
        self.folders_menu.clear()
        for folder in self._folders():
            action = self.folders_menu.addAction(f"Stop scanning {folder}")
            action.triggered.connect(lambda _checked=False, f=folder: self.remove_folder(f))
        if self.folders_menu.isEmpty():
            self.folders_menu.addAction("No folders added (use Add folder…)").setEnabled(False)

    def remove_folder(self, folder: str) -> list[tuple[str, str]]:
        """Stop scanning `folder` (saved); the table follows once the settings changed."""
        kept = [f for f in self._folders() if f != folder]
        return self.bridge.apply_settings({"discovery.model_folders": kept})

    def rescan(self) -> None:
        if self.scanning or self.bridge.service is None:
            return
        self.scanned_folders = self._folders()
        self.scanning = True
        self.progress.show()
        self.rescan_button.setEnabled(False)
        self.status.setText("Scanning for model files… (a file's metadata is read once, then remembered)")
        self.bridge.models.scan_disk_models()

    def on_scan(self, scan: DiskScan | str) -> None:
        self.scanning = False
        self.scanned = True
        self.progress.hide()
        self.rescan_button.setEnabled(True)
        if isinstance(scan, str):
            self.status.setText(scan)
            set_tone(self.status, "error")
            return
        set_tone(self.status, None)
        self.models = list(scan.models)
        searched = [r for r in scan.roots if r.present]
        notes = [f"{r.root.source}: {n}" for r in scan.roots for n in r.notes] + list(scan.notes)
        if self.models:
            found = f"{len(self.models)} model file(s) in {len(searched)} folder(s); "
            found += f"{scan.read} read now, {scan.cached} remembered."
        else:
            found = "No GGUF model files in the known folders (Steward, llama.cpp, LM Studio, Jan, "
            found += "Hugging Face, Ollama). Add a folder that holds some."
        self.status.setText(found + (f" {len(notes)} note(s): hover here." if notes else ""))
        where = [f"{r.root.source}: {r.root.path}" for r in searched] or ["no known model folder exists here"]
        self.status.setToolTip("\n".join(["Searched:", *where, *(["", "Notes:", *notes] if notes else [])]))
        self._fill()

    def _fill(self) -> None:
        selected = self.selected()
        palette = colours(self.palette())
        self.table.setRowCount(len(self.models))
        for row, model in enumerate(self.models):
            tip = details(model)
            for column, text in enumerate(cells(model)):
                item = QTableWidgetItem(text)
                item.setToolTip(tip)
                if column == len(COLUMNS) - 1:
                    fits = model.best is not None
                    item.setForeground(palette.success if fits else palette.error)
                self.table.setItem(row, column, item)
        if selected is not None and selected in self.models:
            self.table.selectRow(self.models.index(selected))
        self._selection_changed()

    def selected(self) -> DiskModel | None:
        rows = self.table.selectionModel().selectedRows()
        return self.models[rows[0].row()] if rows and rows[0].row() < len(self.models) else None

    def select(self, name: str) -> None:
        for row, model in enumerate(self.models):
            if model.name == name:
                self.table.selectRow(row)
                return

    def _settings_changed(self, _settings: object) -> None:
        self._selection_changed()  # a file just served: Serve says by whom
        if self.scanned and self._folders() != self.scanned_folders:
            self.rescan()  # a folder was added or removed

    def _selection_changed(self) -> None:
        model = self.selected()
        why = None
        if model is None:
            why = "select a model file first"
        elif model.error is not None:
            why = f"it cannot be read: {model.error}"
        elif model.best is None:
            why = "it won't fit this machine"
        else:
            servers = self.bridge.settings.servers if self.bridge.settings is not None else []
            by = next((s.name for s in servers if s.model_path == model.path), None)
            if by is not None:
                why = f"{by} serves it already (see the Servers page)"
        self.serve_button.setEnabled(why is None)
        self.serve_button.setToolTip(
            f"Serve is not available: {why}"
            if why
            else "Start a managed llama-server for this file, with the largest context that fits "
            "(at most its trained context and 32k); it shows on the Servers page."
        )

    def serve_selected(self) -> None:
        model = self.selected()
        if model is None:
            return
        ok, text = self.bridge.models.serve_disk_model(model)
        self.result.setText(text)
        set_tone(self.result, None if ok else "error")
        self.result.show()

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder with GGUF model files")
        if folder:
            self.add_folder(folder)

    def add_folder(self, folder: str) -> list[tuple[str, str]]:
        """Add `folder` to the scanned ones (the bridge rescans); problems are shown below the table."""
        problems = self.bridge.models.add_model_folder(folder)
        if problems:
            self.result.setText("; ".join(reason for _, reason in problems))
            set_tone(self.result, "error")
            self.result.show()
        else:
            set_tone(self.result, None)
            self.result.setText(f"Added {folder}; scanning it now.")
            self.result.show()
            self.scanned_folders = (*self._folders(), folder)  # the bridge rescans once it is saved
            self.scanning = True
            self.progress.show()
            self.rescan_button.setEnabled(False)
        return problems
