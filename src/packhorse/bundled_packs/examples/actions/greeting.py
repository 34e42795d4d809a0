"""examples.build_greeting: a Python action that uses the pack config and returns data."""

from st2common.runners.base_action import Action

# Mirrors config.schema.yaml: tests may build the action with a partial config.
DEFAULT_GREETING = "Hello"
DEFAULT_MAX_NAMES = 5


class BuildGreetingAction(Action):
    def run(self, names, punctuation="!"):
        greeting = self.config.get("greeting") or DEFAULT_GREETING
        limit = self.config.get("max_names") or DEFAULT_MAX_NAMES
        greeted = list(names[:limit])
        text = f"{greeting} {join_names(greeted)}{punctuation or ''}"
        self.logger.info("greeting %d of %d names", len(greeted), len(names))
        return {
            "text": text,
            "greeted": len(greeted),
            "skipped": len(names) - len(greeted),
            # Say whether a token is set without ever putting the secret in the result.
            "token_configured": bool(self.config.get("api_token")),
        }


def join_names(names):
    """'a', 'a and b', 'a, b and c'; 'nobody' for an empty list."""
    if not names:
        return "nobody"
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} and {names[-1]}"
