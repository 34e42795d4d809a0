from unittest import mock

from load_sensor import LoadSensor
from st2tests.base import BaseSensorTestCase


class LoadSensorTestCase(BaseSensorTestCase):
    sensor_cls = LoadSensor

    def poll_with_loads(self, loads, cpus=2):
        sensor = self.get_sensor_instance(config={}, poll_interval=1)
        with mock.patch("os.cpu_count", return_value=cpus):
            sensor.setup()
        with mock.patch.object(LoadSensor, "read_load", side_effect=loads):
            for _ in loads:
                sensor.poll()

    def test_first_poll_only_learns_the_state(self):
        self.poll_with_loads([4.0])
        self.assertEqual(self.get_dispatched_triggers(), [])

    def test_crossing_the_threshold_fires_once(self):
        self.poll_with_loads([0.5, 2.5, 3.0])
        self.assertEqual(len(self.get_dispatched_triggers()), 1)
        self.assertTriggerDispatched(
            trigger="examples.load_changed",
            payload={"state": "high", "load_per_cpu": 1.25, "cpus": 2},
        )

    def test_coming_back_down_fires_normal(self):
        self.poll_with_loads([3.0, 0.4])
        self.assertTriggerDispatched(
            trigger="examples.load_changed",
            payload={"state": "normal", "load_per_cpu": 0.2, "cpus": 2},
        )
