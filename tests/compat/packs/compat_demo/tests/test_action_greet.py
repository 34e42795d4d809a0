from greet import GreetAction
from st2tests.base import BaseActionTestCase


class GreetActionTestCase(BaseActionTestCase):
    action_cls = GreetAction

    def test_uses_config_lib_and_fixtures(self):
        action = self.get_action_instance(config={"greeting": "Hello"})
        name = self.get_fixture_content("people.txt")
        result = action.run(name=name)
        self.assertEqual(result["text"], "Hello, Ada Lovelace!")
        self.assertIsNone(result["last"])

    def test_datastore_is_in_memory_with_the_local_prefix(self):
        action = self.get_action_instance(config={"greeting": "Hi"})
        action.run(name="grace", remember=True)
        self.assertEqual(self.action_service.get_value("last"), "Hi, Grace!")
        names = [pair.name for pair in self.action_service.list_values()]
        self.assertEqual(names, ["tests.GreetAction:last"])
        self.assertEqual(
            self.action_service.get_value("tests.GreetAction:last", local=False), "Hi, Grace!"
        )
        self.assertTrue(self.action_service.delete_value("last"))
        self.assertFalse(self.action_service.delete_value("last"))
        self.assertEqual(self.action_service.get_user_info()["username"], "admin")

    def test_a_missing_config_key_says_which(self):
        action = self.get_action_instance(config={})
        with self.assertRaisesRegex(ValueError, 'is missing key "greeting"'):
            action.run(name="x")

    def test_logger_and_description(self):
        action = self.get_action_instance(config={"greeting": "Yo"})
        self.assertEqual(action.logger.name, "actions.python.GreetAction")
        self.assertIsNone(action.description)
