"""Packhorse: an event-driven automation engine that runs StackStorm packs unchanged."""

__version__ = "0.1.0"

#: The StackStorm release whose pack formats and behaviour Packhorse implements.
STACKSTORM_COMPAT_VERSION = "3.9.0"
