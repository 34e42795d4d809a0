"""Sandboxed Jinja and YAQL expressions with StackStorm's functions and filters (pure)."""
