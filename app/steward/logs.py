"""Logging: a rotating file in the platform log dir plus stderr, with secrets redacted."""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path

from steward.paths import log_dir

_SECRET_PATTERNS = (
    re.compile(r"(?i)(authorization:\s*bearer\s+)[^\s'\"]+"),
    re.compile(r"(?i)((?:api[_-]?key|token|password|secret)[\"']?\s*[:=]\s*[\"']?)[^\s'\",}]+"),
    re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"\bstw-[A-Za-z0-9_\-]{8,}"),  # the gateway token (steward.service.token)
)


def redact(text: str) -> str:
    """Replace anything that looks like a credential with «redacted»."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "«redacted»", text)
    return text


class RedactingFilter(logging.Filter):
    """Formats the record's message once and redacts secrets from it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def setup_logging(level: str = "INFO", directory: Path | None = None, stderr: bool = True) -> Path | None:
    """Configure the root logger once; returns the log file path (None if it cannot be written)."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    for handler in list(root.handlers):
        if getattr(handler, "_steward", False):
            root.removeHandler(handler)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    redactor = RedactingFilter()
    path: Path | None = None
    target = directory or log_dir()
    try:
        target.mkdir(parents=True, exist_ok=True)
        path = target / "steward.log"
        file_handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=2_000_000, backupCount=5, encoding="utf-8"
        )
        file_handler.setFormatter(fmt)
        file_handler.addFilter(redactor)
        file_handler._steward = True  # type: ignore[attr-defined]
        root.addHandler(file_handler)
    except OSError:
        path = None
    if stderr:
        stream = logging.StreamHandler()
        stream.setFormatter(fmt)
        stream.setLevel(logging.WARNING)
        stream.addFilter(redactor)
        stream._steward = True  # type: ignore[attr-defined]
        root.addHandler(stream)
    return path
