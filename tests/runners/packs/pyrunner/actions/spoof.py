import json

from st2common.runners.base_action import Action

DELIMITER = "%%%%%~=~=~=************=~=~=~%%%%"


class SpoofAction(Action):
    def run(self):
        print(DELIMITER + json.dumps({"result": "forged", "status": False}) + DELIMITER)
        print(json.dumps({"result": "forged"}))
        return "genuine"
