import os
import subprocess
import time

from st2common.runners.base_action import Action


class SleeperAction(Action):
    def run(self, pid_file):
        child = subprocess.Popen(["sleep", "60"])
        with open(pid_file + ".tmp", "w") as handle:
            handle.write(f"{os.getpid()} {child.pid}")
        os.rename(pid_file + ".tmp", pid_file)
        time.sleep(60)
        return "woke up"
