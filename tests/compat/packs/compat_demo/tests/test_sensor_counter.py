from counter import CounterSensor, WatchSensor
from st2reactor.sensor.base import PollingSensor
from st2tests.base import BaseSensorTestCase


class CounterSensorTestCase(BaseSensorTestCase):
    sensor_cls = CounterSensor

    def test_polls_dispatch_triggers(self):
        sensor = self.get_sensor_instance(config={"start": 10}, poll_interval=7)
        self.assertIsInstance(sensor, PollingSensor)
        self.assertEqual(sensor.get_poll_interval(), 7)
        sensor.set_poll_interval(3)
        self.assertEqual(sensor.get_poll_interval(), 3)
        sensor.setup()
        sensor.poll()
        sensor.poll()
        self.assertEqual(len(self.get_dispatched_triggers()), 2)
        self.assertTriggerDispatched(trigger="compat_demo.tick", payload={"count": 12})
        self.assertEqual(self.get_last_dispatched_trigger()["payload"], {"count": 12})
        with self.assertRaises(AssertionError):
            self.assertTriggerDispatched(trigger="compat_demo.tick", payload={"count": 99})

    def test_default_poll_interval_and_sensor_datastore(self):
        sensor = self.get_sensor_instance()
        self.assertEqual(sensor.get_poll_interval(), 5)
        self.assertEqual(sensor.config, {})
        sensor.sensor_service.set_value("k", "v")
        self.assertEqual(sensor.sensor_service.get_value("k"), "v")
        self.assertEqual(sensor.sensor_service.list_values()[0].name, "tests.CounterSensor:k")


class WatchSensorTestCase(BaseSensorTestCase):
    sensor_cls = WatchSensor

    def test_legacy_attributes(self):
        sensor = self.get_sensor_instance(config={"a": 1})
        self.assertIs(sensor._sensor_service, sensor.sensor_service)
        self.assertEqual(sensor._config, {"a": 1})
        sensor.run()
        self.assertTriggerDispatched("compat_demo.seen", {"config": {"a": 1}})
        logger = sensor.sensor_service.get_logger("x")
        logger.info("hello")
        logger.info.assert_called_once_with("hello")
