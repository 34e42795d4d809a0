"""``st2tests.base``: the pack test base classes (the database test cases are not offered)."""

from st2tests.action_aliases import BaseActionAliasTestCase
from st2tests.actions import BaseActionTestCase
from st2tests.sensors import BaseSensorTestCase

__all__ = ["BaseActionAliasTestCase", "BaseActionTestCase", "BaseSensorTestCase"]
