"""Logging set-up: every log record is redacted when it is created, so a secret that reached
a log message shows as ``********`` whatever logger or handler (ours, uvicorn's, a library's)
writes it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from packhorse.params.masking import Redactor


def install_redaction(redactor: Redactor) -> Callable[[], None]:
    """Wrap the log record factory; returns a function that undoes it (for tests)."""
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        message = record.getMessage()
        redacted = redactor.redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info:
            record.exc_text = redactor.redact_text(
                logging.Formatter().formatException(record.exc_info)
            )
        return record

    logging.setLogRecordFactory(factory)

    def uninstall() -> None:
        logging.setLogRecordFactory(previous)

    return uninstall
