import datetime
import os
import signal
import sys

from st2common.runners.base_action import Action


class Opaque:
    def __str__(self):
        return "<opaque>"


class ReturnsAction(Action):
    def run(self, mode):
        print("some output")
        if mode == "plain":
            return {"answer": 42}
        if mode == "none":
            return None
        if mode == "true_tuple":
            return True, {"ok": 1}
        if mode == "false_tuple":
            return False, {"why": "over the limit"}
        if mode == "bad_tuple":
            return "yes", 1
        if mode == "pair_as_list":
            return ["a", "b"]
        if mode == "three_tuple":
            return (1, 2, 3)
        if mode == "opaque":
            return Opaque()
        if mode == "opaque_with_status":
            return True, Opaque()
        if mode == "datetime":
            return {"at": datetime.datetime(2024, 5, 1, 12, 30)}
        if mode == "raise":
            raise RuntimeError("the action broke")
        if mode == "exit_3":
            sys.exit(3)
        if mode == "exit_0":
            sys.exit(0)
        if mode == "hard_exit_5":
            os._exit(5)  # no clean-up, no exit report to a warm host
        if mode == "killed":
            os.kill(os.getpid(), signal.SIGKILL)
        raise ValueError(mode)
