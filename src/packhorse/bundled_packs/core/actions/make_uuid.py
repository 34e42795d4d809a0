"""core.uuid: return a fresh UUID as a string."""

# The file is not called uuid.py: the action's folder is on sys.path and would hide the
# standard library module.
import uuid

from st2common.runners.base_action import Action

MAKERS = {"uuid1": uuid.uuid1, "uuid4": uuid.uuid4}


class GenerateUUID(Action):
    def run(self, uuid_type="uuid4"):
        maker = MAKERS.get(uuid_type)
        if maker is None:
            raise ValueError(f"unknown uuid_type {uuid_type!r}: use uuid1 or uuid4")
        return str(maker())
