"""Parameter schemas, default rendering, casting and secret masking (pure)."""
