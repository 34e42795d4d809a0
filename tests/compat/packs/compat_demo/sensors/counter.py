from st2reactor.sensor.base import PollingSensor, Sensor


class CounterSensor(PollingSensor):
    def setup(self):
        self.count = self.config.get("start", 0)

    def poll(self):
        self.count += 1
        self.sensor_service.dispatch(trigger="compat_demo.tick", payload={"count": self.count})

    def cleanup(self):
        pass

    def add_trigger(self, trigger):
        pass

    def update_trigger(self, trigger):
        pass

    def remove_trigger(self, trigger):
        pass


class WatchSensor(Sensor):
    def setup(self):
        pass

    def run(self):
        self._sensor_service.dispatch("compat_demo.seen", {"config": self._config})

    def cleanup(self):
        pass

    def add_trigger(self, trigger):
        pass

    def update_trigger(self, trigger):
        pass

    def remove_trigger(self, trigger):
        pass
