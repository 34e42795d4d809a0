"""core.inject_trigger: fire a trigger through the generic webhook of the API."""

from st2common.runners.base_action import Action


class InjectTriggerAction(Action):
    def run(self, trigger=None, trigger_name=None, payload=None, trace_tag=None):
        if trigger and trigger_name:
            raise ValueError("give trigger_name or trigger, not both")
        reference = trigger_name or trigger
        if not reference:
            raise ValueError("trigger_name is required")
        client = self.action_service.datastore_service.get_api_client()
        self.logger.debug("injecting trigger %s", reference)
        # The webhook only queues the trigger instance; whether rules match is decided later.
        return client.webhooks.post_generic_webhook(
            trigger=reference, payload=payload or {}, trace_tag=trace_tag
        )
