from st2common.runners.base_action import Action


class ConstantAction(Action):
    def run(self):
        return 1
