"""``st2reactor.sensor.base``: the base classes of sensors.

A ``Sensor`` waits for events in ``run()``; a ``PollingSensor`` calls ``poll()`` every
``poll_interval`` seconds. Both get a ``sensor_service`` (dispatch, datastore, loggers) and the
pack config.
"""

from __future__ import annotations

import abc
import time
from typing import Any

__all__ = ["BaseSensor", "PollingSensor", "Sensor"]


class BaseSensor(metaclass=abc.ABCMeta):
    """Base of both sensor kinds; not used directly."""

    def __init__(self, sensor_service: Any, config: Any = None) -> None:
        self._sensor_service = sensor_service  # the older spelling, still used by packs
        self.sensor_service = sensor_service
        self._config = config or {}
        self.config = self._config

    @abc.abstractmethod
    def setup(self) -> None:
        """Called once before ``run()``."""

    @abc.abstractmethod
    def run(self) -> None:
        """Watch for events; blocks until the sensor stops."""

    @abc.abstractmethod
    def cleanup(self) -> None:
        """Called once when the sensor stops."""

    @abc.abstractmethod
    def add_trigger(self, trigger: Any) -> None:
        """A trigger of this sensor's types was created."""

    @abc.abstractmethod
    def update_trigger(self, trigger: Any) -> None:
        """A trigger of this sensor's types was updated."""

    @abc.abstractmethod
    def remove_trigger(self, trigger: Any) -> None:
        """A trigger of this sensor's types was deleted."""


class Sensor(BaseSensor):
    """A passive sensor: ``run()`` waits for events and dispatches triggers."""

    @abc.abstractmethod
    def run(self) -> None:
        """Watch for events; blocks until the sensor stops."""


class PollingSensor(BaseSensor):
    """An active sensor: ``poll()`` runs every ``poll_interval`` seconds."""

    def __init__(self, sensor_service: Any, config: Any = None, poll_interval: float = 5) -> None:
        super().__init__(sensor_service=sensor_service, config=config)
        self._poll_interval = poll_interval

    @abc.abstractmethod
    def poll(self) -> None:
        """Ask the outside system for news and dispatch triggers."""

    def run(self) -> None:
        while True:
            self.poll()
            time.sleep(self._poll_interval)

    def get_poll_interval(self) -> float:
        return self._poll_interval

    def set_poll_interval(self, poll_interval: float) -> None:
        self._poll_interval = poll_interval
