"""examples.LoadSensor: a PollingSensor that reports changes, not every poll."""

import os

from st2reactor.sensor.base import PollingSensor

TRIGGER = "examples.load_changed"
HIGH_LOAD_PER_CPU = 1.0


class LoadSensor(PollingSensor):
    def __init__(self, sensor_service, config=None, poll_interval=30):
        super().__init__(sensor_service=sensor_service, config=config, poll_interval=poll_interval)
        self._logger = self.sensor_service.get_logger(name=self.__class__.__name__)
        self._cpus = 1
        self._state = None

    def setup(self):
        self._cpus = os.cpu_count() or 1

    def poll(self):
        load = self.read_load()
        if load is None:
            return
        load_per_cpu = round(load / self._cpus, 2)
        state = "high" if load_per_cpu >= HIGH_LOAD_PER_CPU else "normal"
        # The first poll only learns the current state: a restart must not fire a change.
        if self._state is not None and state != self._state:
            self._logger.info("load per CPU is %s (%s)", state, load_per_cpu)
            payload = {"state": state, "load_per_cpu": load_per_cpu, "cpus": self._cpus}
            self.sensor_service.dispatch(trigger=TRIGGER, payload=payload)
        self._state = state

    def read_load(self):
        """The one-minute load average, or None where the platform has none."""
        try:
            return os.getloadavg()[0]
        except (AttributeError, OSError):
            return None

    def cleanup(self):
        pass

    # This sensor's trigger type has no parameters, so there is nothing to track per trigger.
    def add_trigger(self, trigger):
        pass

    def update_trigger(self, trigger):
        pass

    def remove_trigger(self, trigger):
        pass
