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

    def test_the_alias_reads_as_attributes_too(self):
        # Pack tests written for StackStorm read ActionAliasDB fields as attributes.
        self.assertEqual(self.action_alias_db.formats, self.action_alias_db["formats"])
        self.assertEqual(self.action_alias_db.name, "greet")
        self.assertIsNone(self.action_alias_db.no_such_field)
        self.assertEqual(
            self.action_alias_db.get_format_strings(),
            ["greet {{ name }}", "say hello to {{ name }} {{ remember = false }}"],
        )
