"""Base of the pack test cases: fixtures from ``<pack>/tests/fixtures/``."""

from __future__ import annotations

import inspect
import os
from unittest import TestCase

__all__ = ["BasePackResourceTestCase"]


class BasePackResourceTestCase(TestCase):
    def get_fixture_content(self, fixture_path: str) -> str:
        """The text of ``tests/fixtures/<fixture_path>`` of the pack under test."""
        path = os.path.join(self._get_base_pack_path(), "tests", "fixtures", fixture_path)
        with open(path, encoding="utf-8") as handle:
            return handle.read()

    def _get_base_pack_path(self) -> str:
        test_file = inspect.getfile(self.__class__)
        return os.path.abspath(os.path.join(os.path.dirname(test_file), ".."))
