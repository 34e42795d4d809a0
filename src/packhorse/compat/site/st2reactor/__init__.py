"""Packhorse's stand-in for the parts of StackStorm's ``st2reactor`` that packs import."""
