"""``st2client.models.KeyValuePair``: one datastore pair as the API returns it."""

from _packhorse_pack.keys import KeyValuePair

__all__ = ["KeyValuePair"]
