from st2tests.base import BaseActionAliasTestCase


class GreetAliasTestCase(BaseActionAliasTestCase):
    action_alias_name = "greet"

    def test_formats(self):
        formats = self.action_alias_db["formats"]
        self.assertCommandMatchesExactlyOneFormatString(formats, "greet ada")
        self.assertExtractedParametersMatch(formats[0], "greet ada", {"name": "ada"})
        self.assertExtractedParametersMatch(
            formats[1], "say hello to ada", {"name": "ada", "remember": "false"}
        )
        self.assertExtractedParametersMatch(
            formats[1], "say hello to ada true", {"name": "ada", "remember": "true"}
        )
