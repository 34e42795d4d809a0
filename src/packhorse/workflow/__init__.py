"""Orquesta and action-chain: spec, graph, state and conductor (pure)."""
