"""``st2common.runners.base_action.Action``: the base class of python-script actions."""

from _packhorse_pack.base import Action

__all__ = ["Action"]
