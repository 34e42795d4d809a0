import os
import sys

import packlib
import sibling_helper
from st2common.runners.base_action import Action


class InspectSelfAction(Action):
    def run(self, secret, number, items, missing):
        with open("/proc/self/cmdline", "rb") as handle:
            cmdline = handle.read().decode(errors="replace")
        return {
            "parameters": {"secret": secret, "number": number, "items": items, "missing": missing},
            "config": dict(self.config),
            "cmdline": cmdline,
            "shout": packlib.shout("lib"),
            "sibling": sibling_helper.ANSWER,
            "path": sys.path,
            "env": {
                key: value for key, value in os.environ.items() if key.startswith(("PH_", "ST2_"))
            },
            "pythonpath": os.environ.get("PYTHONPATH", ""),
            "stdin": sys.stdin.read(),
            "pid": os.getpid(),
            "pgid": os.getpgid(0),
            "ppid": os.getppid(),
            "cwd": os.getcwd(),
        }
