"""The registration plan: a pure diff between validated packs and what is registered."""
