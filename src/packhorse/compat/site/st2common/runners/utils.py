"""``st2common.runners.utils``: the helpers packs import from it."""

from _packhorse_pack.base import (
    PackConfigDict,
    get_action_class_instance,
    get_logger_for_python_runner_action,
)

__all__ = ["PackConfigDict", "get_action_class_instance", "get_logger_for_python_runner_action"]
