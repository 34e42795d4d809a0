"""StackStorm's and orquesta's expression functions as plain Python functions.

:data:`FUNCTIONS` maps each name templates use to its function. The Jinja environment registers
every entry both as a filter (``{{ x | to_json_string }}``, as StackStorm does) and as a global
function (``{{ to_json_string(x) }}``, as orquesta does); ``packhorse.expr.yaql``
registers the same entries as YAQL functions (keyword arguments with ``=>``).

Not here because they need the render context: ``decrypt_kv`` (see ``packhorse.expr.jinja``),
and the workflow functions (``ctx``, ``result``, ``task``, ``st2kv(...)``, ...) that the
workflow engine adds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from packhorse.expr.functions.data import (
    NONE_MAGIC_VALUE,
    from_json_string,
    from_yaml_string,
    json_escape,
    jsonpath_query,
    orquesta_json,
    orquesta_zip,
    to_complex,
    to_json_string,
    to_yaml_string,
    use_none,
)
from packhorse.expr.functions.durations import to_human_time_from_seconds
from packhorse.expr.functions.path import basename, dirname
from packhorse.expr.functions.regex import (
    regex_match,
    regex_replace,
    regex_search,
    regex_substring,
)
from packhorse.expr.functions.version import (
    version_bump_major,
    version_bump_minor,
    version_bump_patch,
    version_compare,
    version_equal,
    version_less_than,
    version_match,
    version_more_than,
    version_strip_patch,
)

__all__ = ["FUNCTIONS", "NONE_MAGIC_VALUE"]

FUNCTIONS: dict[str, Callable[..., Any]] = {
    # data (StackStorm filters)
    "from_json_string": from_json_string,
    "from_yaml_string": from_yaml_string,
    "to_json_string": to_json_string,
    "to_yaml_string": to_yaml_string,
    "json_escape": json_escape,
    "jsonpath_query": jsonpath_query,
    "to_complex": to_complex,
    "use_none": use_none,
    # the aliases StackStorm registers for orquesta
    "json_parse": from_json_string,
    "json_dump": to_json_string,
    "yaml_parse": from_yaml_string,
    "yaml_dump": to_yaml_string,
    # orquesta's own
    "json": orquesta_json,
    "zip": orquesta_zip,
    # regex
    "regex_match": regex_match,
    "regex_replace": regex_replace,
    "regex_search": regex_search,
    "regex_substring": regex_substring,
    # time
    "to_human_time_from_seconds": to_human_time_from_seconds,
    # version
    "version_compare": version_compare,
    "version_more_than": version_more_than,
    "version_less_than": version_less_than,
    "version_equal": version_equal,
    "version_match": version_match,
    "version_bump_major": version_bump_major,
    "version_bump_minor": version_bump_minor,
    "version_bump_patch": version_bump_patch,
    "version_strip_patch": version_strip_patch,
    # path
    "basename": basename,
    "dirname": dirname,
}
