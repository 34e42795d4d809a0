"""core.pause: sleep, then return the number of seconds slept."""

import time
from random import randint

from st2common.runners.base_action import Action


class PauseAction(Action):
    def run(self, max_pause, random=False):
        # A random pause needs at least one second to choose from.
        seconds = randint(1, max_pause) if random and max_pause >= 1 else max_pause
        time.sleep(seconds)
        return seconds
