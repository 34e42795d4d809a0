"""Secret masking: what every display path (CLI, API, logs, results, exports) runs values
through before they leave the process.

Two complementary tools:

* by schema: parameters and config keys declared ``secret: true`` are replaced by
  :data:`MASK` (StackStorm's behaviour);
* by value: a :class:`Redactor` remembers every secret value this process decrypted or was
  handed, and replaces it wherever it appears in text (StackStorm does not do this, so a
  secret echoed by a script leaks into its result there; here it does not).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "********"

#: Values shorter than this are not redacted by value: masking "a" or "1" everywhere would
#: garble output without protecting anything.
MIN_REDACTED_LENGTH = 4


def secret_parameter_names(schema: Mapping[str, Any]) -> frozenset[str]:
    """Names of the parameters a parameter schema marks ``secret: true``."""
    return frozenset(
        name for name, spec in schema.items() if isinstance(spec, Mapping) and spec.get("secret")
    )


def mask_by_schema(values: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``values`` with every secret field (nested objects too) replaced by MASK."""
    masked: dict[str, Any] = {}
    for name, value in values.items():
        spec = schema.get(name)
        if not isinstance(spec, Mapping):
            masked[name] = value
        elif spec.get("secret") and value is not None:
            masked[name] = MASK
        elif isinstance(value, Mapping) and isinstance(spec.get("properties"), Mapping):
            masked[name] = mask_by_schema(value, spec["properties"])
        else:
            masked[name] = value
    return masked


class Redactor:
    """Replaces known secret values in text and nested data. One per process."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        if len(secret) < MIN_REDACTED_LENGTH or secret in self._secrets:
            return
        self._secrets.add(secret)
        # Longest first, so that a secret containing another is replaced whole.
        ordered = sorted(self._secrets, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def __contains__(self, text: object) -> bool:
        return (
            isinstance(text, str) and self._pattern is not None and bool(self._pattern.search(text))
        )

    def redact_text(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)

    def redact(self, value: Any) -> Any:
        """``value`` with every known secret replaced, in strings at any depth (keys too)."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, Mapping):
            return {self.redact(k): self.redact(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact(v) for v in value]
        return value


def mask_parameters(rendered: Any, schema: Mapping[str, Any]) -> dict[str, Any]:
    """Runner and action parameters of a rendering (a
    :class:`~packhorse.params.render.RenderedParameters`) in one dict for display, with every
    secret one replaced by MASK."""
    return {
        **mask_by_schema(rendered.runner, schema),
        **mask_by_schema(rendered.action, schema),
    }
