"""A module of the pack's actions/lib folder."""


def shout(text):
    return text.upper()
