"""The Servers page's table: its columns, each row's cells (status in words, the last exit, a
pending action), the status colours and tooltips, and how the table is sized for 1024 px."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem

from steward.gui.tables import read_only_table
from steward.gui.theme import status_text_colour
from steward.service.server_rows import ServerRow, format_uptime

COLUMNS = [
    "Name",
    "Status",
    "Last exit",
    "URL",
    "Model",
    "Where",
    "Context",
    "Kind",
    "Source",
    "PID",
    "Port",
    "Uptime",
    "Restarts",
]
STATUS_COLUMN = COLUMNS.index("Status")
EXIT_COLUMN = COLUMNS.index("Last exit")
TOOLTIP_COLUMNS = {COLUMNS.index(c) for c in ("Name", "URL", "Model")}
MAX_WIDTHS = {"Name": 150, "Status": 180, "Last exit": 170, "URL": 175, "Model": 200}
"""The first five columns are as wide as their contents up to these widths (longer text is elided,
in full in its tooltip), so Name, Status, Last exit, URL and Model all fit a 1024 px window."""
STATUS_HEALTH = {
    "ready": "healthy",
    "up": "healthy",
    "starting": "loading",
    "loading": "loading",
    "restarting": "loading",
    "crashed": "unhealthy",
    "failed": "unhealthy",
    "down": "unhealthy",
    "stopped": "unknown",
}
# Which actions make sense in which state of a managed server.
CAN_START = ("stopped", "failed")
CAN_STOP = ("starting", "loading", "ready", "crashed", "restarting")
CAN_RESTART = ("starting", "loading", "ready", "restarting")
DOING = {"start": "starting…", "stop": "stopping…", "restart": "restarting…"}


def cells(row: ServerRow, pending: str | None = None) -> list[str]:
    def opt(value: object) -> str:
        return "—" if value is None else str(value)

    return [
        row.name,
        DOING[pending] if pending else row.status_text,
        row.last_exit or "—",
        row.url,
        row.model or "—",
        row.reach,
        f"{row.ctx:,}" if row.ctx else "—",
        row.kind,
        row.source,
        opt(row.pid),
        opt(row.port),
        format_uptime(row.uptime_s),
        opt(row.restarts),
    ]


def servers_table() -> QTableWidget:
    """The table; the columns that matter most stay in view at 1024 px (long text is elided, in
    full in the tooltip). Those five can be widened by hand; the others size to their contents."""
    table = read_only_table("serversTable", COLUMNS, single_selection=True)
    table.setWordWrap(False)
    table.setTextElideMode(Qt.TextElideMode.ElideRight)
    header = table.horizontalHeader()
    for column in MAX_WIDTHS:
        header.setSectionResizeMode(COLUMNS.index(column), QHeaderView.ResizeMode.Interactive)
    fit_columns(table)
    return table


def fit_columns(table: QTableWidget) -> None:
    """Size the first five columns to their contents, each up to its MAX_WIDTHS. Only a change
    of the fitted width is applied, so a column the user widened by hand stays as they left it
    until its contents change."""
    header = table.horizontalHeader()
    for name, most in MAX_WIDTHS.items():
        column = COLUMNS.index(name)
        width = min(most, max(header.sectionSizeHint(column), table.sizeHintForColumn(column)))
        key = f"fitted{column}"
        if table.property(key) != width:
            table.setProperty(key, width)
            table.setColumnWidth(column, width)


def fill(table: QTableWidget, rows: Sequence[ServerRow], pending: Mapping[str, str]) -> None:
    """Show `rows` (`pending`: server name -> action in flight), changing only the cells that differ."""
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(cells(row, pending.get(row.name))):
            item = table.item(r, c)
            if item is None:
                item = QTableWidgetItem()
                table.setItem(r, c, item)
            if item.text() != text:
                item.setText(text)
            if c == STATUS_COLUMN:
                item.setForeground(status_text_colour(STATUS_HEALTH.get(row.status, "unknown")))
                item.setToolTip(row.detail or row.status_text)
            elif c == EXIT_COLUMN:
                item.setToolTip(row.last_exit)
            elif c in TOOLTIP_COLUMNS:
                item.setToolTip(text)
    fit_columns(table)
