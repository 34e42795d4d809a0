"""Pack content: discover -> parse -> validate -> plan -> apply.

``discover`` reads folders, ``validate`` and ``plan`` are pure, ``apply`` writes through the
storage port, and ``registration`` strings them together for the CLI and the engine.
"""
