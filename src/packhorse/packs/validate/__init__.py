"""Pure validation of pack sources: every problem as a diagnostic, with file, line and column."""
