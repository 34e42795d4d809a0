"""A small stand-in for StackStorm's ``st2client``: datastore keys through the engine."""
