"""``st2client.client.Client``: datastore keys through the engine; the rest needs the API."""

from _packhorse_pack.keys import Client, PackhorseAPIUnavailable

__all__ = ["Client", "PackhorseAPIUnavailable"]
