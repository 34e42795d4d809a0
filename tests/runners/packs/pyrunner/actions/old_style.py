from st2common.runners.base_action import Action


class OldStyleAction(Action):
    def __init__(self, config):
        super().__init__(config)

    def run(self):
        return self.action_service is not None
