"""Models page: every model on every server with its health, circuit and window; quarantine,
release, reset, load/unload (where the server can), capability tags and the fallback chain
(drag to reorder). Edits are saved to settings and applied to the engine at once.

A llama-server router's models say their status in words in the Loaded column ("loaded",
"loading…", "unloaded", "sleeping", "failed (exit 1)"), and Load / Unload are enabled only when
the router would do them (Load an unloaded or failed model; Unload a running one). A second
tab lists the model files on this disk and serves one in a click (`disk_models.DiskModelsPanel`)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QPalette, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from steward.engine.durations import duration_in_words, time_left
from steward.engine.snapshot import EngineSnapshot, ModelSnapshot
from steward.gui.bridge import Bridge
from steward.gui.pages.disk_models import DiskModelsPanel
from steward.gui.pages.model_dialogs import CapabilitiesDialog, QuarantineDialog
from steward.gui.tables import read_only_table
from steward.gui.theme import colours, status_text_colour

COLUMNS = [
    "Model",
    "Server",
    "Health",
    "Circuit",
    "Failures",
    "Last error",
    "Window",
    "p50 TTFT",
    "tok/s",
    "Success",
    "Loaded",
    "Capabilities",
]


LOADED_COLUMN = COLUMNS.index("Loaded")
KEY_ROLE = Qt.ItemDataRole.UserRole
MODEL_MIN_WIDTH = 200
"""The model name keeps at least this much room; columns give way (see NARROW_ORDER) before it does."""
NARROW_ORDER = ["Success", "tok/s", "Failures", "Window", "Capabilities", "p50 TTFT", "Loaded", "Last error"]
"""When the table is too narrow, these columns hide, first to last; every value stays in the model's
tooltip. Model, Server, Health and Circuit always show; Loaded stays long (a router's models say
there whether they run)."""
CHAIN_WIDTH = (170, 260)
"""The fallback chain panel's width: narrow (names elide in the middle), the table gets the rest."""


def _fmt_s(value: float | None) -> str:
    return "—" if value is None else f"{value * 1000:.0f} ms"


class FallbackChainList(QListWidget):
    """Every model, ticked ones form the fallback chain; drag and drop sets their order."""

    def __init__(self, on_change: object, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("fallbackChain")
        self.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # "server · model", cut at the end: in a narrow panel the server, which tells two copies of
        # one model apart, stays readable (the full key is the tooltip).
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self._on_change = on_change
        self._filling = False
        self.model().rowsMoved.connect(self._changed)
        self.itemChanged.connect(self._changed)

    def fill(self, chain: list[str], keys: list[str]) -> None:
        """Chain members first (ticked, in order), then the other models (unticked)."""
        if self.chain() == [k for k in chain if k in keys] and sorted(self.keys()) == sorted(keys):
            return
        self._filling = True
        self.clear()
        ordered = [k for k in chain if k in keys] + [k for k in keys if k not in chain]
        for key in ordered:
            server, _, model = key.partition("/")
            item = QListWidgetItem(f"{server} · {model}" if model else key)
            item.setData(KEY_ROLE, key)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsDragEnabled)
            item.setCheckState(Qt.CheckState.Checked if key in chain else Qt.CheckState.Unchecked)
            item.setToolTip(key)
            self.addItem(item)
        self._filling = False

    def keys(self) -> list[str]:
        return [str(self.item(i).data(KEY_ROLE)) for i in range(self.count())]

    def chain(self) -> list[str]:
        return [
            str(self.item(i).data(KEY_ROLE))
            for i in range(self.count())
            if self.item(i).checkState() == Qt.CheckState.Checked
        ]

    def move(self, key: str, row: int) -> None:
        """Move `key` to `row` as a drop does (for keyboard users and tests)."""
        keys = self.keys()
        if key in keys:
            self.model().moveRow(self.rootIndex(), keys.index(key), self.rootIndex(), row)

    def _changed(self, *_args: object) -> None:
        if not self._filling and callable(self._on_change):
            self._on_change(self.chain())


class ModelsPage(QWidget):
    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.table = read_only_table("modelsTable", COLUMNS, single_selection=True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = self.table.horizontalHeader()
        # The model name takes what is left (elided in the middle, the full name in its tooltip);
        # the other columns are as wide as their contents, and the least needed ones hide when the
        # table is too narrow for them (fit_columns), so nothing needs sideways scrolling.
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        self._fitting = False
        self.table.viewport().installEventFilter(self)  # a window or splitter resize refits the columns
        self.quarantine_button = QPushButton("Quarantine…")
        self.release_button = QPushButton("Release")
        self.reset_button = QPushButton("Reset health")
        self.capabilities_button = QPushButton("Set capabilities…")
        self.load_button = QPushButton("Load")
        self.unload_button = QPushButton("Unload")
        self.quarantine_button.clicked.connect(self._quarantine)
        self.release_button.clicked.connect(lambda: self._act(self.bridge.models.release))
        self.reset_button.clicked.connect(lambda: self._act(self.bridge.models.reset))
        self.capabilities_button.clicked.connect(self._edit_capabilities)
        self.load_button.clicked.connect(lambda: self._act(lambda k: self.bridge.models.load_model(k, True)))
        self.unload_button.clicked.connect(
            lambda: self._act(lambda k: self.bridge.models.load_model(k, False))
        )
        self.table.itemSelectionChanged.connect(self._selection_changed)
        actions = QHBoxLayout()
        for button in (
            self.quarantine_button,
            self.release_button,
            self.reset_button,
            self.capabilities_button,
            self.load_button,
            self.unload_button,
        ):
            actions.addWidget(button)
        actions.addStretch(1)
        self.chain_list = FallbackChainList(self._chain_changed)
        self.chain_error = QLabel()
        self.chain_error.setObjectName("inlineError")
        self.chain_error.setWordWrap(True)
        self.chain_error.hide()
        chain_title = QLabel("Fallback chain")
        chain_title.setObjectName("sectionTitle")
        chain_help = QLabel(
            "Ticked models are tried in this order when the first choice fails. Drag to reorder."
        )
        chain_help.setWordWrap(True)
        chain_help.setObjectName("hint")
        chain_panel = QWidget()
        chain_panel.setObjectName("chainPanel")
        chain_panel.setMinimumWidth(CHAIN_WIDTH[0])
        chain_panel.setMaximumWidth(CHAIN_WIDTH[1])
        self.chain_list.setMinimumWidth(CHAIN_WIDTH[0])
        chain_layout = QVBoxLayout(chain_panel)
        chain_layout.setContentsMargins(0, 0, 0, 0)
        for widget in (chain_title, chain_help, self.chain_list, self.chain_error):
            chain_layout.addWidget(widget)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.table)
        splitter.addWidget(chain_panel)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([800, CHAIN_WIDTH[0] + 20])
        on_servers = QWidget()
        servers_layout = QVBoxLayout(on_servers)
        servers_layout.setContentsMargins(0, 6, 0, 0)
        servers_layout.addLayout(actions)
        servers_layout.addWidget(splitter, 1)
        self.disk = DiskModelsPanel(bridge)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("modelsTabs")
        self.tabs.setDocumentMode(True)  # no framed pane: pages keep the window's background (contrast)
        self.tabs.addTab(on_servers, "On servers")
        self.tabs.addTab(self.disk, "On this disk")
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        self._keys: list[str] = []
        self._selection_changed()
        bridge.snapshot_changed.connect(self.on_snapshot)
        bridge.settings_changed.connect(lambda _s: self._fill_chain())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.table.viewport() and event.type() == QEvent.Type.Resize and not self._fitting:
            self.fit_columns()
        return super().eventFilter(watched, event)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.fit_columns()  # resized while hidden: fit to the width it has now

    def fit_columns(self) -> None:
        """Show the columns that fit beside the model name (its contents, up to MODEL_MIN_WIDTH);
        hide the rest, NARROW_ORDER first to last. Column widths are their contents' (header
        included), measured with every column shown (a hidden header section measures 0)."""
        table = self.table
        header = table.horizontalHeader()
        self._fitting = True
        table.setUpdatesEnabled(False)
        try:
            for column in range(len(COLUMNS)):
                header.setSectionHidden(column, False)
            widths = [max(header.sectionSizeHint(c), table.sizeHintForColumn(c)) for c in range(len(COLUMNS))]
            available = table.viewport().width()
            need = min(MODEL_MIN_WIDTH, widths[0]) + sum(widths[1:])
            for name in NARROW_ORDER:
                if need <= available:
                    break
                column = COLUMNS.index(name)
                header.setSectionHidden(column, True)
                need -= widths[column]
        finally:
            table.setUpdatesEnabled(True)
            self._fitting = False

    def hidden_columns(self) -> list[str]:
        header = self.table.horizontalHeader()
        return [name for c, name in enumerate(COLUMNS) if header.isSectionHidden(c)]

    def selected_key(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self._keys[rows[0].row()] if rows else None

    def select(self, key: str) -> None:
        if key in self._keys:
            self.table.selectRow(self._keys.index(key))

    def _act(self, action: object) -> None:
        key = self.selected_key()
        if key is not None and callable(action):
            action(key)

    def _quarantine(self) -> None:
        key = self.selected_key()
        if key is None:
            return
        dialog = QuarantineDialog(key, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.bridge.models.quarantine(key, dialog.reason.text().strip(), dialog.duration.currentData())

    def _selection_changed(self) -> None:
        key = self.selected_key()
        for button in (
            self.quarantine_button,
            self.release_button,
            self.reset_button,
            self.capabilities_button,
        ):
            button.setEnabled(key is not None)
        whys = ("select a model first",) * 2 if key is None else self.bridge.models.model_load_actions(key)
        for button, verb, why in zip(
            (self.load_button, self.unload_button), ("Load", "Unload"), whys, strict=True
        ):
            button.setEnabled(why is None)
            button.setToolTip(
                f"{verb} is not available: {why}" if why else f"{verb} this model on its server now"
            )

    def _edit_capabilities(self) -> None:
        key = self.selected_key()
        snapshot = self.bridge.snapshot
        model = snapshot.model(key) if snapshot is not None and key is not None else None
        if key is None or model is None:
            return
        dialog = CapabilitiesDialog(key, list(model.capabilities), self)
        while dialog.exec() == QDialog.DialogCode.Accepted:
            problems = self.set_capabilities(key, dialog.tags())
            if not problems:
                return
            dialog.error.setText("; ".join(reason for _, reason in problems))
            dialog.error.show()

    def set_capabilities(self, key: str, tags: list[str]) -> list[tuple[str, str]]:
        """Save and apply `tags` for `key`; problems (nothing applied) when invalid."""
        return self.bridge.models.set_capabilities(key, tags)

    def _chain_changed(self, chain: list[str]) -> None:
        problems = self.bridge.models.set_fallback_chain(chain)
        self.chain_error.setText("; ".join(reason for _, reason in problems))
        self.chain_error.setVisible(bool(problems))

    def _fill_chain(self) -> None:
        self.chain_list.fill(self.bridge.models.fallback_chain(), self._keys)

    def on_snapshot(self, snapshot: EngineSnapshot) -> None:
        selected = self.selected_key()
        keys = [m.key for m in snapshot.models]
        if keys != self._keys:
            self._keys = keys
            self._fill_chain()
        self.table.setRowCount(len(snapshot.models))
        changed = False
        for row, model in enumerate(snapshot.models):
            cells = self._cells(model)
            for col, text in enumerate(cells):
                item = self.table.item(row, col)
                if item is None:
                    item = QTableWidgetItem()
                    self.table.setItem(row, col, item)
                if item.text() != text:
                    item.setText(text)
                    changed = True
                if col == 0:
                    details = "\n".join(
                        f"{name}: {value}" for name, value in zip(COLUMNS[1:], cells[1:], strict=False)
                    )
                    item.setToolTip(f"{model.key}\n{details}")
                if col == 2:
                    item.setForeground(status_text_colour(model.health))
                    item.setToolTip(model.health_reason)
                if col == 5 and model.last_error_detail:
                    item.setToolTip(model.last_error_detail)
                if col == LOADED_COLUMN:
                    item.setForeground(self._load_colour(model.load_status))
        if changed:
            self.fit_columns()
        if selected is not None:
            self.select(selected)
        self._selection_changed()

    def _load_colour(self, status: str | None) -> QColor:
        """Failed in the error colour, not running (unloaded, sleeping, loading…) muted."""
        c = colours(self.palette())
        if status is None or status == "loaded":
            return self.palette().color(QPalette.ColorRole.Text)
        return c.error if status.startswith("failed") else c.muted

    @staticmethod
    def _cells(m: ModelSnapshot) -> list[str]:
        health = m.health
        if m.quarantine is not None:
            health = f"quarantined ({time_left(m.quarantine.remaining_s)})"
        circuit = m.breaker.replace("_", "-")
        if m.reopen_in_s is not None:
            circuit += f" (retry in {duration_in_words(m.reopen_in_s)})"
        rate = m.metrics.success_rate
        return [
            m.model,
            m.server_id,
            health,
            circuit,
            str(m.consecutive_failures),
            m.last_error_kind or "—",
            f"{m.window:,}" if m.window else "—",
            _fmt_s(m.metrics.ttft_p50),
            f"{m.metrics.tokens_per_s:.0f}" if m.metrics.tokens_per_s else "—",
            "—" if rate is None else f"{rate:.0%}",
            m.load_status or {True: "yes", False: "no", None: "—"}[m.loaded],
            ", ".join(m.capabilities) or "—",
        ]


__all__ = ["ModelsPage", "Qt", "QuarantineDialog"]
