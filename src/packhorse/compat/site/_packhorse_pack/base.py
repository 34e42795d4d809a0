"""``Action`` and its helpers: the pack config dict, the action logger, instantiation.

``st2common.runners.base_action`` and ``st2common.runners.utils`` re-export these. The wrapper
imports them from here, so that a real ``st2common`` in a pack's virtualenv cannot replace
the machinery (only what the pack itself imports).
"""

from __future__ import annotations

import abc
import logging
import sys
from typing import Any

__all__ = [
    "Action",
    "PackConfigDict",
    "get_action_class_instance",
    "get_logger_for_python_runner_action",
]

AUDIT = logging.CRITICAL + 10
LOG_FORMAT = "%(name)-12s: %(levelname)-8s %(message)s"

# One logger (and one handler) per action class, so that two instances never log twice.
_LOGGERS: dict[str, logging.Logger] = {}


class PackConfigDict(dict[str, Any]):
    """The pack config: a dict whose missing keys raise a message that says what to fix."""

    def __init__(self, pack_name: str, *args: Any) -> None:
        super().__init__(*args)
        self._pack_name = pack_name

    def __getitem__(self, key: str) -> Any:
        try:
            return super().__getitem__(key)
        except KeyError:
            raise ValueError(
                f'Config for pack "{self._pack_name}" is missing key "{key}".\n'
                f"Make sure that the pack's config (configs/{self._pack_name}.yaml in the "
                "instance folder) exists and contains that key, or that config.schema.yaml "
                "gives it a default."
            ) from None


def level_number(log_level: str) -> int:
    """StackStorm's level names (``AUDIT`` included) as numbers; unknown names mean DEBUG."""
    name = str(log_level).upper()
    if name == "AUDIT":
        return AUDIT
    number = logging.getLevelName(name)
    return number if isinstance(number, int) else logging.DEBUG


def get_logger_for_python_runner_action(
    action_name: str, log_level: str = "debug"
) -> logging.Logger:
    """The logger of an action class: ``actions.python.<Class>``, writing to stderr."""
    logger_name = f"actions.python.{action_name}"
    logger = _LOGGERS.get(logger_name)
    if logger is None:
        level = level_number(log_level)
        logger = logging.getLogger(logger_name)
        handler = logging.StreamHandler(sys.stderr)
        handler.setLevel(level)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logger.addHandler(handler)
        logger.setLevel(level)
        _LOGGERS[logger_name] = logger
    return logger


def get_action_class_instance(
    action_cls: type[Any], config: Any = None, action_service: Any = None
) -> Any:
    """Instantiate an action class; old classes without ``action_service`` get it assigned."""
    try:
        return action_cls(config=config, action_service=action_service)
    except TypeError as error:
        if "unexpected keyword argument 'action_service'" not in str(error):
            raise
    instance = action_cls(config=config)
    instance.action_service = action_service
    return instance


class Action(metaclass=abc.ABCMeta):
    """Base class of Python actions: ``run(**parameters)`` does the work.

    ``self.config`` is the pack config, ``self.logger`` a logger writing to stderr at the
    runner's ``log_level`` and ``self.action_service`` the datastore access.
    """

    description: str | None = None

    def __init__(self, config: Any = None, action_service: Any = None) -> None:
        self.action_service = action_service
        wrapper = getattr(action_service, "_action_wrapper", None) if action_service else None
        log_level = getattr(wrapper, "_log_level", "debug") if wrapper else "debug"
        pack_name = getattr(wrapper, "_pack", "unknown") if wrapper else "unknown"
        self.config = PackConfigDict(pack_name, config or {})
        self.logger = get_logger_for_python_runner_action(
            action_name=self.__class__.__name__, log_level=log_level
        )

    @abc.abstractmethod
    def run(self, **kwargs: Any) -> Any:
        """Do the work; see the runner for what the return value means."""
