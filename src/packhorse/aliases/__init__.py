"""Action aliases (pure): format strings matched against chat commands
(:mod:`packhorse.aliases.formats`, the one implementation, also loaded by the ``st2tests``
shim) and the choice of alias and execution parameters (:mod:`packhorse.aliases.matching`)."""
