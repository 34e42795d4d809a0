"""The action service of pack tests: an in-memory datastore and a mock logger."""

from __future__ import annotations

from logging import RootLogger
from typing import Any
from unittest.mock import Mock

from _packhorse_pack.service import ActionService, ActionWrapperInfo

from st2tests.mocks.datastore import MockDatastoreService

__all__ = ["MockActionService", "MockActionWrapper"]


class MockActionWrapper(ActionWrapperInfo):
    def __init__(self, pack: str, class_name: str) -> None:
        super().__init__(pack=pack, class_name=class_name)


class MockActionService(ActionService):
    def __init__(self, action_wrapper: Any) -> None:
        super().__init__(action_wrapper=action_wrapper)
        self._logger = Mock(spec=RootLogger)
        self._datastore_service = MockDatastoreService(
            logger=self._logger,
            pack_name=action_wrapper._pack,
            class_name=action_wrapper._class_name,
        )
