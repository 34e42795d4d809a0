from greeting import BuildGreetingAction
from st2tests.base import BaseActionTestCase


class BuildGreetingActionTestCase(BaseActionTestCase):
    action_cls = BuildGreetingAction

    def test_uses_the_configured_greeting(self):
        action = self.get_action_instance(config={"greeting": "Hi", "max_names": 5})
        result = action.run(names=["Ada", "Grace", "Linus"], punctuation=".")
        self.assertEqual(result["text"], "Hi Ada, Grace and Linus.")
        self.assertEqual(result["greeted"], 3)
        self.assertEqual(result["skipped"], 0)

    def test_greets_at_most_max_names(self):
        action = self.get_action_instance(config={"greeting": "Hello", "max_names": 2})
        result = action.run(names=["a", "b", "c", "d"], punctuation="!")
        self.assertEqual(result["text"], "Hello a and b!")
        self.assertEqual(result["skipped"], 2)

    def test_reports_a_token_without_revealing_it(self):
        action = self.get_action_instance(config={"api_token": "s3cret"})
        result = action.run(names=[], punctuation="!")
        self.assertEqual(result["text"], "Hello nobody!")
        self.assertTrue(result["token_configured"])
        self.assertNotIn("s3cret", repr(result))
