"""Bundles, transforms, verification, cutover and the upgrade plan."""
