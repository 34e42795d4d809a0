"""``BaseSensorTestCase``: build the sensor under test and check what it dispatched."""

from __future__ import annotations

from typing import Any

from st2tests.mocks.sensor import MockSensorService, MockSensorWrapper
from st2tests.pack_resource import BasePackResourceTestCase

__all__ = ["BaseSensorTestCase"]


class BaseSensorTestCase(BasePackResourceTestCase):
    """Set ``sensor_cls``; ``get_sensor_instance(config, poll_interval)`` builds it."""

    sensor_cls: Any = None

    def setUp(self) -> None:
        super().setUp()
        if self.sensor_cls is None:
            raise ValueError('"sensor_cls" class attribute needs to be provided')
        wrapper = MockSensorWrapper(pack="tests", class_name=self.sensor_cls.__name__)
        self.sensor_service = MockSensorService(sensor_wrapper=wrapper)

    def get_sensor_instance(self, config: Any = None, poll_interval: Any = None) -> Any:
        kwargs: dict[str, Any] = {"sensor_service": self.sensor_service}
        if config:
            kwargs["config"] = config
        if poll_interval is not None:
            kwargs["poll_interval"] = poll_interval
        return self.sensor_cls(**kwargs)

    def get_dispatched_triggers(self) -> list[dict[str, Any]]:
        return self.sensor_service.dispatched_triggers

    def get_last_dispatched_trigger(self) -> dict[str, Any]:
        return self.sensor_service.dispatched_triggers[-1]

    def assertTriggerDispatched(
        self, trigger: Any, payload: Any = None, trace_context: Any = None
    ) -> bool:
        """Pass when ``trigger`` was dispatched (with ``payload``, ``trace_context`` if given)."""
        for item in self.get_dispatched_triggers():
            if (
                item["trigger"] == trigger
                and (not payload or item["payload"] == payload)
                and (not trace_context or item["trace_context"] == trace_context)
            ):
                return True
        raise AssertionError(f'Trigger "{trigger}" hasn\'t been dispatched')
