from names import tidy
from st2common.runners.base_action import Action


class GreetAction(Action):
    def run(self, name, remember=False):
        greeting = self.config["greeting"]
        text = f"{greeting}, {tidy(name)}!"
        self.logger.info("greeting %s", name)
        if remember:
            self.action_service.set_value("last", text)
        return {"text": text, "last": self.action_service.get_value("last")}
