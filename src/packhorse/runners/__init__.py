"""Runner plugins: one per runner type, behind one small interface."""
