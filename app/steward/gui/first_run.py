"""The first-run panel: what Steward is doing right now, what the built-in model is, and where to
connect your own servers.

Shown at the top of the window on the first launch (no settings file yet) and on later launches
until the user dismisses it; then never again (View ▸ Show welcome panel brings it back). The
"starting… 2 s" line counts live from the bridge's `runtime_starting` until `runtime_ready` (or
`runtime_failed`), so a newcomer sees that something is happening and how long it takes.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from steward.config.settings_file import FILE_NAME
from steward.gui.bridge import Bridge
from steward.gui.elided import ElidedLabel
from steward.paths import config_dir

DISMISSED_KEY = "first_run/dismissed"
PENDING_KEY = "first_run/pending"

ABOUT_MODEL = (
    "Steward keeps local LLM servers running and sends every request to a model that answers, "
    "falling back to another one when a server fails. To start with it runs a built-in model, "
    "SmolLM2 (135M parameters): small and quick, good for trying things out, not for real work."
)
ABOUT_SERVERS = (
    "Connect your own servers (Ollama, llama.cpp, LM Studio, vLLM…) on the Servers page; ones running "
    "on their usual ports on this computer are found by themselves."
)


def show_at_start(state: QSettings) -> bool:
    """True on the first launch (no settings file yet) and, once shown, until it was dismissed.

    Reads one small file's existence at window creation, as QSettings already reads ui-state.
    """
    if state.value(DISMISSED_KEY, False, type=bool):
        return False
    show = bool(state.value(PENDING_KEY, False, type=bool)) or not (config_dir() / FILE_NAME).exists()
    if show:
        state.setValue(PENDING_KEY, True)  # shown once: shown again until dismissed
    return show


class FirstRunPanel(QFrame):
    """Welcome panel with a live start-up line, the built-in model and a way to the Servers page."""

    def __init__(
        self,
        bridge: Bridge,
        state: QSettings,
        open_servers: Callable[[], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("firstRun")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._state = state
        self._started: float | None = None
        self._doing = ""
        self.title = QLabel("<b>Welcome to Steward</b>")
        self.progress = ElidedLabel("Getting ready…", min_chars=12)
        self.progress.setObjectName("firstRunProgress")
        self.about = QLabel(ABOUT_MODEL)
        self.about.setWordWrap(True)
        self.servers_text = QLabel(ABOUT_SERVERS)
        self.servers_text.setWordWrap(True)
        self.servers_button = QPushButton("Connect your servers…")
        self.servers_button.setToolTip("Open the Servers page to add an endpoint or a managed llama-server.")
        self.servers_button.clicked.connect(open_servers)
        self.dismiss_button = QPushButton("Got it, hide this")
        self.dismiss_button.setToolTip("Hide this panel for good (View ▸ Show welcome panel brings it back).")
        self.dismiss_button.clicked.connect(self.dismiss)
        # Compact on purpose: it sits above every page and must not cost a small screen its height.
        top = QHBoxLayout()
        top.addWidget(self.title)
        top.addWidget(self.progress, 1)
        top.addWidget(self.servers_button)
        top.addWidget(self.dismiss_button)
        text = QHBoxLayout()
        text.setSpacing(18)
        text.addWidget(self.about, 3)
        text.addWidget(self.servers_text, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 6, 12, 6)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addLayout(text)

        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._tick)
        bridge.runtime_starting.connect(self.starting)
        bridge.runtime_ready.connect(lambda _warnings: self.finished("Ready"))
        bridge.runtime_failed.connect(lambda text: self.finished(f"Could not start ({text})"))

    def elapsed(self) -> int:
        """Whole seconds since start-up began (0 before)."""
        return 0 if self._started is None else int(time.monotonic() - self._started)

    def starting(self, doing: str) -> None:
        """Start-up began: show what is being done and count the seconds."""
        self._started = time.monotonic()
        self._doing = doing[:1].upper() + doing[1:]
        self._ticker.start()
        self._tick()

    def _tick(self) -> None:
        self.progress.setText(f"{self._doing} {self.elapsed()} s")

    def finished(self, outcome: str) -> None:
        """Start-up ended: say how long it took and what to do next."""
        self._ticker.stop()
        took = f" after {self.elapsed()} s" if self._started is not None else ""
        follow = " — open Chat (Ctrl+2) and ask something." if outcome == "Ready" else ""
        self.progress.setText(f"{outcome}{took}{follow}")

    def dismiss(self) -> None:
        """Hide the panel and never show it again at start."""
        self._state.setValue(DISMISSED_KEY, True)
        self._state.setValue(PENDING_KEY, False)
        self._state.sync()
        self.hide()
