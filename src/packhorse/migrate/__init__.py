"""Bundles, transforms, verification, cutover and the upgrade plan.

Built so far, the export half of bundles (``docs/bundle-format.md``):

- :mod:`packhorse.migrate.bundle_format` (pure): member names, canonical JSON, the manifest
  model, checksums and the rules of what a pack folder exports;
- :mod:`packhorse.migrate.sealing` (pure): the transport key of a bundle's secrets
  (passphrase or recipient), sealing and opening datastore items;
- :mod:`packhorse.migrate.archive`: the deterministic tar + gzip, written and read safely;
- :mod:`packhorse.migrate.recipient`: an instance's X25519 recipient key file;
- :mod:`packhorse.migrate.export`: ``bundle export`` from a consistent database snapshot.
"""
