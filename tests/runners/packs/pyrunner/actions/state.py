import os

from st2common.runners.base_action import Action

CALLS = 0


class StateAction(Action):
    def run(self):
        global CALLS
        CALLS += 1
        os.environ["PH_LEAK"] = "set by an earlier run"
        return {"calls": CALLS, "pid": os.getpid(), "ppid": os.getppid()}
