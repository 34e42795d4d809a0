"""Frozen dataclasses shared by every layer: content, diagnostics, refs. No I/O here."""
