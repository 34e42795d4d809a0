"""Pack configs at run time: the values actions and sensors see (pure).

    resolve_config(values, schema, datastore=..., decrypt=...) -> the resolved config
    secret_paths(schema)                                     -> {"api_token", "hosts.*.token"}
    mask_config(values, schema)                              -> values, secrets as "********"

``values`` are the stored (registered) config values; ``schema`` is the pack's config schema
attributes, a map of top-level key to parameter schema. Resolution is StackStorm's
``ContentPackConfigLoader`` (stackstorm-packs.md §6.1), step for step:

1. Walk the values, following the schema: an object's keys take their schema from
   ``properties``, then from every ``patternProperties`` pattern that matches (merged), then
   from ``additionalProperties``; an array's items from ``items`` (one schema or a list of
   them), then ``additionalItems``. Every string leaf holding ``{{`` or ``{%`` is rendered as a
   Jinja template whose only name is ``st2kv``. An empty result becomes None. When the leaf's
   schema says ``secret: true`` the rendered text is decrypted with the datastore key (so
   ``{{ st2kv.system.token }}`` of an encrypted key gives the plain text); ``decrypt_kv`` in
   the template decrypts through the ``st2kv`` object instead.
2. Assign defaults, walking the schema: a key that is absent takes its schema ``default``; an
   ``object`` whose schema has ``properties``, ``patternProperties`` or
   ``additionalProperties`` (an ``array`` with ``items`` or ``additionalItems``) is created
   empty when absent or null, and its own keys (items) get their defaults in turn. Array items
   are never appended.

Differences from StackStorm, both about input StackStorm crashes on: a value whose type does
not fit its schema (a string where the schema has an object) is left as it is rather than
failing with an AttributeError, and a positional ``items`` list longer than the array does
not raise an IndexError. A failure names the config key: ``config key "api.token": ...``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from packhorse.errors import ExpressionError, PackhorseError
from packhorse.expr import Datastore, render_template

__all__ = [
    "MASK",
    "is_dynamic",
    "item_schemas",
    "mask_config",
    "object_schemas",
    "resolve_config",
    "secret_paths",
]

MASK: Final = "********"
"""What a secret value is shown as (StackStorm's ``MASKED_ATTRIBUTE_VALUE``)."""

ANY: Final = "*"
"""In :func:`secret_paths`, a path step that stands for any array item or any object key."""

_EMPTY: Mapping[str, Any] = {}
_OBJECT_KEYWORDS = ("properties", "patternProperties", "additionalProperties")
_ARRAY_KEYWORDS = ("items", "additionalItems")


def is_dynamic(value: Any) -> bool:
    """Whether a config value is resolved at run time: a string holding ``{{`` or ``{%``.

    The same test StackStorm makes; an unclosed ``{{`` counts (and fails when rendered).
    """
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _schema(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else _EMPTY


def _matches(pattern: str, key: str) -> bool:
    try:
        return re.search(pattern, key) is not None
    except re.error:
        return False  # an invalid pattern is reported when the schema is validated


def object_schemas(schema: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Mapping[str, Any]]:
    """The schema of each key of an object described by ``schema``.

    Every key of ``properties`` is included (so defaults can be assigned), and each of
    ``keys``: from ``properties`` first, else the merge of every ``patternProperties`` schema
    whose pattern matches, else ``additionalProperties`` when it is a schema, else ``{}``.
    """
    found: dict[str, Mapping[str, Any]] = {key: _EMPTY for key in keys}
    properties = _schema(schema.get("properties"))
    for key, item in properties.items():
        found[key] = _schema(item)
    extra = [key for key in found if key not in properties]
    if not extra:
        return found
    patterns = _schema(schema.get("patternProperties"))
    if patterns:
        unmatched = []
        for key in extra:
            merged: dict[str, Any] = {}
            matched = False
            for pattern, item in patterns.items():
                if _matches(pattern, key):
                    merged.update(_schema(item))
                    matched = True
            if matched:
                found[key] = merged
            else:
                unmatched.append(key)
        extra = unmatched
    additional = schema.get("additionalProperties")
    if extra and isinstance(additional, Mapping):
        for key in extra:
            found[key] = additional
    return found


def item_schemas(schema: Mapping[str, Any], count: int) -> list[Mapping[str, Any]]:
    """The schema of each of ``count`` items of an array described by ``schema``.

    ``items`` as one schema applies to every item; as a list it is positional and may be
    longer than the array; items past its end take ``additionalItems`` when it is a schema.
    Items with no schema at all are left out of the end of the list.
    """
    items = schema.get("items")
    found: list[Mapping[str, Any]]
    if isinstance(items, Mapping):
        return [items] * count
    found = [_schema(item) for item in items] if isinstance(items, list) else []
    additional = schema.get("additionalItems")
    if len(found) < count and isinstance(additional, Mapping):
        found.extend([additional] * (count - len(found)))
    return found


# -- resolution ----------------------------------------------------------------------------


def resolve_config(
    values: Mapping[str, Any] | None,
    schema: Mapping[str, Any] | None,
    *,
    datastore: Datastore,
    decrypt: Callable[[str], str] | None,
) -> dict[str, Any]:
    """The config of a pack as its actions and sensors see it (see the module docstring).

    ``datastore`` is the ``st2kv`` of the templates (bound to the user the config is resolved
    for); ``decrypt`` decrypts the rendered value of a ``secret: true`` item (None when no
    datastore key is available: such an item then fails). ``values`` is not changed. Raises
    :class:`~packhorse.errors.ExpressionError` naming the config key at fault.
    """
    config: dict[str, Any] = copy.deepcopy(dict(values or {}))
    attributes = schema or _EMPTY
    context = {"st2kv": datastore}
    top = {key: _schema(attributes.get(key)) for key in config}
    _render(config, top, (), context, decrypt)
    _defaults(config, [(key, _schema(item)) for key, item in attributes.items()])
    return config


def _render(
    node: dict[str, Any] | list[Any],
    schemas: Mapping[str, Mapping[str, Any]] | Sequence[Mapping[str, Any]],
    path: tuple[str, ...],
    context: Mapping[str, Any],
    decrypt: Callable[[str], str] | None,
) -> None:
    entries: Iterable[tuple[Any, Any]] = (
        list(node.items()) if isinstance(node, dict) else list(enumerate(node))
    )
    for key, value in entries:
        if isinstance(schemas, Mapping):
            item = schemas.get(key, _EMPTY)
        else:
            item = schemas[key] if key < len(schemas) else _EMPTY
        here = (*path, str(key))
        if isinstance(value, dict):
            _render(value, object_schemas(item, value.keys()), here, context, decrypt)
        elif isinstance(value, list):
            _render(value, item_schemas(item, len(value)), here, context, decrypt)
        elif is_dynamic(value):
            node[key] = _resolve_leaf(value, item, ".".join(here), context, decrypt)


def _resolve_leaf(
    text: str,
    item: Mapping[str, Any],
    key: str,
    context: Mapping[str, Any],
    decrypt: Callable[[str], str] | None,
) -> str | None:
    try:
        rendered = render_template(text, context)
    except ExpressionError as error:
        raise _keyed(error, key) from error
    if not rendered:
        return None
    if not item.get("secret"):
        return rendered
    if decrypt is None:
        reason = "ValueError: a secret config value needs the datastore key to be decrypted"
        raise _keyed(ExpressionError(text, reason), key)
    try:
        return decrypt(rendered)
    except (PackhorseError, ValueError) as error:
        # The message of a decryption failure never holds the value itself.
        message = getattr(error, "message", None) or str(error)
        reason = f"{type(error).__name__}: {message}"
        raise _keyed(ExpressionError(text, reason), key) from error


def _keyed(error: ExpressionError, key: str) -> ExpressionError:
    """The same error, its message led by the config key it happened at."""
    keyed = ExpressionError(error.expression, error.reason, kind=error.kind)
    keyed.message = f'config key "{key}": {error.message}'
    keyed.args = (keyed.message,)
    return keyed


def _defaults(node: dict[str, Any] | list[Any], schemas: Iterable[tuple[Any, Any]]) -> None:
    for key, item in schemas:
        present = key in node if isinstance(node, dict) else key < len(node)
        if not present:
            if isinstance(node, list):
                continue  # items are never appended
            if "default" in item:
                node[key] = copy.deepcopy(item["default"])
                present = True
        value = node[key] if present else None
        kind = item.get("type")
        if kind == "object" and any(item.get(k) for k in _OBJECT_KEYWORDS):
            if value is None:
                value = node[key] = {}
            if isinstance(value, dict):
                _defaults(value, object_schemas(item, value.keys()).items())
        elif kind == "array" and any(item.get(k) for k in _ARRAY_KEYWORDS):
            if value is None:
                value = node[key] = []
            if isinstance(value, list):
                _defaults(value, enumerate(item_schemas(item, len(value))))


# -- secrets -------------------------------------------------------------------------------


def secret_paths(schema: Mapping[str, Any] | None) -> set[str]:
    """Dotted paths of every ``secret: true`` item of a config schema.

    ``*`` stands for any array item, and for any key that takes its schema from
    ``patternProperties`` or ``additionalProperties``: ``{"api_token", "profiles.*.token"}``.
    A secret object or array is one path: the whole of it is secret.
    """
    found: set[str] = set()
    for key, item in (schema or _EMPTY).items():
        _collect_secrets(_schema(item), key, found, depth=0)
    return found


_MAX_SCHEMA_DEPTH = 64


def _collect_secrets(item: Mapping[str, Any], path: str, found: set[str], depth: int) -> None:
    if item.get("secret") is True:
        found.add(path)
        return
    if depth > _MAX_SCHEMA_DEPTH:
        return
    children: list[tuple[str, Any]] = []
    children += [(name, sub) for name, sub in _schema(item.get("properties")).items()]
    children += [(ANY, sub) for sub in _schema(item.get("patternProperties")).values()]
    items = item.get("items")
    children += [(ANY, sub) for sub in (items if isinstance(items, list) else [items])]
    children += [(ANY, item.get("additionalProperties")), (ANY, item.get("additionalItems"))]
    for name, sub in children:
        if isinstance(sub, Mapping):
            _collect_secrets(sub, f"{path}.{name}", found, depth + 1)


def mask_config(values: Mapping[str, Any], schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """A copy of ``values`` with every value whose schema says ``secret: true`` replaced by
    :data:`MASK`, for display.

    The value is masked whatever it holds (a datastore reference too), and a secret object or
    array is masked whole, as StackStorm does. StackStorm looks only at ``properties`` and a
    single ``items`` schema; this follows the schema as resolution does, so a secret under
    ``patternProperties``, ``additionalProperties`` or ``additionalItems`` is masked as well.
    """
    attributes = schema or _EMPTY
    top = {key: _schema(attributes.get(key)) for key in values}
    masked = _mask(dict(values), top)
    assert isinstance(masked, dict)
    return masked


def _mask(
    node: dict[str, Any] | list[Any],
    schemas: Mapping[str, Mapping[str, Any]] | Sequence[Mapping[str, Any]],
) -> dict[str, Any] | list[Any]:
    if isinstance(node, dict):
        entries: list[tuple[Any, Any]] = list(node.items())
    else:
        entries = list(enumerate(node))
    result: dict[str, Any] | list[Any] = {} if isinstance(node, dict) else [None] * len(node)
    for key, value in entries:
        if isinstance(schemas, Mapping):
            item = schemas.get(key, _EMPTY)
        else:
            item = schemas[key] if key < len(schemas) else _EMPTY
        if item.get("secret") is True:
            shown: Any = MASK
        elif isinstance(value, dict):
            shown = _mask(value, object_schemas(item, value.keys()))
        elif isinstance(value, list):
            shown = _mask(value, item_schemas(item, len(value)))
        else:
            shown = copy.deepcopy(value)
        result[key] = shown
    return result
