"""examples.check_limit: fail the execution, with data, when a value is over a limit."""

from st2common.runners.base_action import Action


class CheckLimitAction(Action):
    def run(self, value, limit=10):
        within = value <= limit
        verdict = "within" if within else "over"
        result = {
            "value": value,
            "limit": limit,
            "within": within,
            "message": f"{value} is {verdict} the limit of {limit}",
        }
        return within, result
