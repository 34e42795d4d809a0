from st2common.runners.base_action import Action


class LogsAction(Action):
    def run(self):
        self.logger.debug("a debug line")
        self.logger.info("an info line")
        self.logger.error("an error line")
        return True
