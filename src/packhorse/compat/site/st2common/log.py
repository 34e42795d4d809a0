"""``from st2common import log as logging``: the standard library's loggers."""

import logging
from logging import (
    CRITICAL,
    DEBUG,
    ERROR,
    INFO,
    WARNING,
    Logger,
)

AUDIT = CRITICAL + 10
logging.addLevelName(AUDIT, "AUDIT")

__all__ = ["AUDIT", "CRITICAL", "DEBUG", "ERROR", "INFO", "WARNING", "getLogger"]


def getLogger(name: str) -> Logger:
    return logging.getLogger(name)
