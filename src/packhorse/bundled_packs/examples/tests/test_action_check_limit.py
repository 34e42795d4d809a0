from check_limit import CheckLimitAction
from st2tests.base import BaseActionTestCase


class CheckLimitActionTestCase(BaseActionTestCase):
    action_cls = CheckLimitAction

    def test_within_the_limit_succeeds(self):
        succeeded, result = self.get_action_instance().run(value=3, limit=3)
        self.assertTrue(succeeded)
        self.assertEqual(result["message"], "3 is within the limit of 3")

    def test_over_the_limit_fails_with_data(self):
        succeeded, result = self.get_action_instance().run(value=4, limit=3)
        self.assertFalse(succeeded)
        self.assertFalse(result["within"])
        self.assertEqual(result["message"], "4 is over the limit of 3")
