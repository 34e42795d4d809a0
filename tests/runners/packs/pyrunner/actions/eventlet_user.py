import eventlet
from st2common.runners.base_action import Action

eventlet.monkey_patch()


class EventletUserAction(Action):
    def run(self):
        eventlet.sleep(0)
        return getattr(eventlet, "PACKHORSE_SHIM", False)
