"""Import shims for pack code: st2common, st2reactor, st2tests and a small st2client."""
