from st2common.runners.base_action import Action


class Abstract(Action):
    """Alphabetically first, but it does not implement run()."""


class Beta(Action):
    def run(self):
        return "beta"


class Alpha(Abstract):
    def run(self):
        return "alpha"
