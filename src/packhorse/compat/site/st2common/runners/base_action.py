"""``st2common.runners.base_action.Action``: the base class of python-script actions."""

from __future__ import annotations

import abc
from typing import Any

from st2common.runners.utils import PackConfigDict, get_logger_for_python_runner_action

__all__ = ["Action"]


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
