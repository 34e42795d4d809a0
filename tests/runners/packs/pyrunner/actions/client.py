from st2client.client import Client
from st2client.models import KeyValuePair
from st2common.runners.base_action import Action


class ClientAction(Action):
    def run(self):
        client = Client(base_url="http://localhost")
        client.keys.update(KeyValuePair(name="via_client", value="v"))
        pair = client.keys.get_by_name("via_client")
        webhook = client.webhooks.post_generic_webhook(trigger="x.y", payload={"a": 1})
        try:
            client.executions.get_all()
            unavailable = None
        except RuntimeError as error:
            unavailable = str(error)
        api = self.action_service.datastore_service.get_api_client()
        return {
            "value": pair.value,
            "missing": client.keys.get_by_name("nope"),
            "deleted": client.keys.delete(pair),
            "webhook": webhook,
            "unavailable": unavailable,
            "same_client_kind": type(api).__name__,
        }
