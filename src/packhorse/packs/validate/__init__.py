"""Pure validation of pack sources: every problem as a diagnostic, with file, line and column.

    validate_packs(sources, context) -> [PackResult]

``context`` says what is installed already (:func:`context_from_packs` builds it); the codes of
all diagnostics are in :mod:`packhorse.packs.validate.codes` and ``docs/diagnostics.md``.
"""

from packhorse.packs.validate.context import ValidationContext, context_from_packs
from packhorse.packs.validate.pipeline import PackResult, validate_packs

__all__ = ["PackResult", "ValidationContext", "context_from_packs", "validate_packs"]
