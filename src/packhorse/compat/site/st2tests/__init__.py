"""Packhorse's stand-in for the pack test base classes of StackStorm's ``st2tests``."""
