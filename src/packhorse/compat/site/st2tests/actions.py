"""``BaseActionTestCase``: build the action under test with an in-memory datastore."""

from __future__ import annotations

from typing import Any

from _packhorse_pack.base import get_action_class_instance

from st2tests.mocks.action import MockActionService, MockActionWrapper
from st2tests.pack_resource import BasePackResourceTestCase

__all__ = ["BaseActionTestCase"]


class BaseActionTestCase(BasePackResourceTestCase):
    """Set ``action_cls``; ``get_action_instance(config)`` builds it."""

    action_cls: Any = None

    def setUp(self) -> None:
        super().setUp()
        if self.action_cls is None:
            raise ValueError('"action_cls" class attribute needs to be provided')
        wrapper = MockActionWrapper(pack="tests", class_name=self.action_cls.__name__)
        self.action_service = MockActionService(action_wrapper=wrapper)

    def get_action_instance(self, config: Any = None) -> Any:
        return get_action_class_instance(
            action_cls=self.action_cls, config=config, action_service=self.action_service
        )
