import os
import sys

from st2common.runners.base_action import Action


class LeakCheckAction(Action):
    def run(self):
        return {"env": os.environ.get("PH_LEAK"), "state_loaded": "state" in sys.modules}
