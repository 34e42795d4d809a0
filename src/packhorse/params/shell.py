"""The command line of a shell-script action, as StackStorm builds it (stackstorm-packs.md §3.5).

``<script> <named> <positional>``:

* named: every action parameter without a ``position``, in declaration order, as
  ``<kwarg_op><name>=<value>`` (``kwarg_op`` is the runner parameter, ``--`` by default); a
  None or empty-string value is skipped, ``True`` is a bare ``<kwarg_op><name>`` and ``False``
  is left out; other values are ``str()``-ed, so a list arrives as Python shows it
  (``['a', 'b']``), as in StackStorm;
* positional: the parameters with a ``position``, sorted by position (so ``position: 1`` on
  its own is ``$1``), serialised by declared type: strings and numbers as text, booleans as
  ``1``/``0``, arrays comma-joined, objects as compact JSON, and None (or an empty array or
  object) as an empty argument that keeps its slot;
* runner parameters are never arguments.

Names and values are quoted with :func:`shlex.quote`. :func:`wrap_command` adds the ``sudo``
wrapping StackStorm uses for ``sudo: true`` and for running as another user.

One deliberate difference (docs/compatibility.md): StackStorm serialises a positional
``integer`` 0 as an empty argument (it treats integers as "other" types, which are
``str(value) if value else ""``); here an integer is serialised like a number.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from packhorse.params.render import RenderedParameters
from packhorse.params.schema import positional_parameters

__all__ = [
    "DEFAULT_KWARG_OP",
    "ScriptCommand",
    "named_arguments",
    "positional_arguments",
    "script_command",
    "serialize_positional",
    "wrap_command",
]

DEFAULT_KWARG_OP = "--"


@dataclass(frozen=True, slots=True)
class ScriptCommand:
    """A script invocation both ways: for ``exec`` and for a shell (or SSH)."""

    argv: list[str]
    """The script path, then each argument, unquoted."""
    command: str
    """The same as one shell command line, every part quoted as StackStorm quotes it."""


def serialize_positional(declared_type: Any, value: Any) -> str:
    """One positional argument as StackStorm serialises it for its declared type."""
    match declared_type:
        case "string" | "number" | "integer":
            return "" if value is None else str(value)
        case "boolean":
            return "" if value is None else ("1" if value else "0")
        case "array":
            return ",".join(map(str, value)) if value else ""
        case "object":
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False) if value else ""
        case "null":
            return ""
        case _:
            return str(value) if value else ""


def _type_of(schema: Mapping[str, Any], name: str) -> Any:
    spec = schema.get(name)
    return spec.get("type") if isinstance(spec, Mapping) else None


def positional_arguments(
    parameters: Mapping[str, Any],
    schema: Mapping[str, Any],
    *,
    exclude: frozenset[str] = frozenset(),
) -> list[str]:
    """The positional arguments (unquoted) of ``parameters``, the action parameters."""
    return [
        serialize_positional(_type_of(schema, name), parameters.get(name))
        for name in positional_parameters(schema)
        if name not in exclude
    ]


def named_arguments(
    parameters: Mapping[str, Any], schema: Mapping[str, Any], *, kwarg_op: str = DEFAULT_KWARG_OP
) -> list[tuple[str, str | None]]:
    """``(option, value)`` for each named argument of ``parameters``; value None for a flag."""
    positioned = set(positional_parameters(schema))
    named: list[tuple[str, str | None]] = []
    for name, value in parameters.items():
        if name in positioned or value is None or value == "":
            continue
        if isinstance(value, bool):
            if value:
                named.append((kwarg_op + name, None))
        else:
            named.append((kwarg_op + name, str(value)))
    return named


def script_command(
    script: str, rendered: RenderedParameters, schema: Mapping[str, Any]
) -> ScriptCommand:
    """The command line running ``script`` (its absolute path) with the rendered parameters.

    ``kwarg_op`` comes from the runner parameters (``--`` when unset).
    """
    kwarg_op = rendered.runner.get("kwarg_op") or DEFAULT_KWARG_OP
    named = named_arguments(rendered.action, schema, kwarg_op=str(kwarg_op))
    positional = positional_arguments(rendered.action, schema, exclude=frozenset(rendered.runner))
    argv = [script]
    parts = [shlex.quote(script)]
    for option, value in named:
        if value is None:
            argv.append(option)
            parts.append(shlex.quote(option))
        else:
            argv.append(f"{option}={value}")
            parts.append(f"{shlex.quote(option)}={shlex.quote(value)}")
    argv.extend(positional)
    parts.extend(shlex.quote(argument) for argument in positional)
    return ScriptCommand(argv=argv, command=" ".join(parts))


def wrap_command(
    command: str, *, sudo: bool, run_as: str | None, sudo_password: bool = False
) -> str:
    """``command`` wrapped to run as root (``sudo``) or as user ``run_as``, as StackStorm does.

    * ``sudo``: ``sudo -E -- bash -c '<command>'`` (root; ``run_as`` is then ignored);
    * ``run_as``: ``sudo -E -H -u <user> -- bash -c '<command>'``; pass it only when the
      user differs from the one running Packhorse;
    * neither: ``command`` unchanged.

    ``sudo_password`` adds ``-S``: sudo reads the password from standard input.
    """
    flags = ["-S"] if sudo_password else []
    flags.append("-E")
    if sudo:
        return f"sudo {' '.join(flags)} -- bash -c {shlex.quote(command)}"
    if run_as:
        flags += ["-H", "-u", shlex.quote(run_as)]
        return f"sudo {' '.join(flags)} -- bash -c {shlex.quote(command)}"
    return command
