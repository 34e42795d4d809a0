"""A module next to the actions, imported by name."""

ANSWER = 42
