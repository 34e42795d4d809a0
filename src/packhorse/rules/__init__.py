"""Rule criteria operators, the matcher and enforcement rendering (pure)."""
