"""``packhorse pack config REF``: write a pack's config file, register it, or show it.

Interactive by default: each key the pack's config schema declares is asked for, with its
description, its current value or default, and its allowed values; ``secret: true`` keys are
typed hidden, twice. ``--no-input`` asks nothing (for scripts): the current file's values are
kept and ``--set KEY=VALUE`` changes them. The new values are checked against the schema
before anything is written; the file is replaced atomically (0600 when it holds a secret
value), then the pack is registered again so the new config takes effect.

Secret answers are written into the file as given. Write ``{{ st2kv.system.<key> }}`` as the
answer to keep a secret encrypted in the datastore instead (docs/configs.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import click

from packhorse.cli.main import CliContext
from packhorse.cli.output import echo_json

pass_cli = click.make_pass_decorator(CliContext)

#: How many invalid answers to one question end the command.
MAX_ATTEMPTS: Final = 5

_UNSET: Final = object()
#: Descriptions up to this long are the prompt itself; longer ones are printed above it.
_SHORT: Final = 60
_TRUE = frozenset({"true", "yes", "y", "on", "1"})
_FALSE = frozenset({"false", "no", "n", "off", "0"})


@dataclass(frozen=True, slots=True)
class Console:
    """Where questions go and answers come from (a terminal, or a script in tests)."""

    ask: Callable[[str], str]
    """Show a prompt, return the line typed ("" for just Enter)."""
    ask_hidden: Callable[[str], str]
    """The same without echoing what is typed."""
    say: Callable[[str], None]


def _schema(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def cast_value(text: str, item: Mapping[str, Any]) -> Any:
    """The value of an answer for a key with schema ``item``. Raises ValueError saying why.

    A template (``{{ ... }}``) is kept as text whatever the type: it is resolved at run time.
    """
    from packhorse.params.config import is_dynamic

    if is_dynamic(text):
        return text
    kind = item.get("type")
    value: Any = text
    if kind == "integer":
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not an integer") from None
    elif kind == "number":
        try:
            value = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"{text!r} is not a number") from None
    elif kind == "boolean":
        lowered = text.strip().lower()
        if lowered not in _TRUE | _FALSE:
            raise ValueError(f"{text!r} is not a boolean: answer true or false")
        value = lowered in _TRUE
    elif kind in ("object", "array"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"{kind} values are written as JSON: {error.msg}") from None
        wanted = dict if kind == "object" else list
        if not isinstance(value, wanted):
            raise ValueError(f"expected a JSON {kind}")
    enum = item.get("enum")
    if isinstance(enum, list) and value not in enum:
        raise ValueError(f"{text!r} is not allowed: use one of {', '.join(map(_show, enum))}")
    return value


def ask_config(
    schema: Mapping[str, Any],
    current: Mapping[str, Any],
    console: Console,
    *,
    skip: Iterable[str] = (),
) -> dict[str, Any]:
    """Ask for every key ``schema`` declares; return ``current`` updated with the answers.

    Enter keeps the current value, or leaves the key out so that its default applies; a
    required key with neither must be answered. Objects with ``properties`` are asked key by
    key; other objects and arrays are answered in JSON. Keys in ``skip`` (dotted) are not asked.
    """
    return _ask_object(schema, dict(current), console, frozenset(skip), ())


def _ask_object(
    properties: Mapping[str, Any],
    current: dict[str, Any],
    console: Console,
    skip: frozenset[str],
    prefix: tuple[str, ...],
) -> dict[str, Any]:
    result = dict(current)
    for key, raw in properties.items():
        item = _schema(raw)
        path = (*prefix, key)
        name = ".".join(path)
        if name in skip:
            continue
        nested = _schema(item.get("properties"))
        if item.get("type") == "object" and nested and item.get("secret") is not True:
            if item.get("description"):
                console.say(f"{name}: {item['description']}")
            inner = result.get(key)
            answers = _ask_object(
                nested, dict(inner) if isinstance(inner, dict) else {}, console, skip, path
            )
            if answers:
                result[key] = answers
            else:
                result.pop(key, None)
            continue
        answer = _ask_value(name, item, result.get(key, _UNSET), console)
        if answer is _UNSET:
            result.pop(key, None)
        else:
            result[key] = answer
    return result


def _ask_value(name: str, item: Mapping[str, Any], current: Any, console: Console) -> Any:
    from packhorse.params.config import MASK

    secret = item.get("secret") is True
    has_current = current is not _UNSET and current is not None
    default = item.get("default", _UNSET)
    required = item.get("required") is True and default is _UNSET
    description = str(item.get("description") or "").strip()
    if len(description) > _SHORT or "\n" in description:
        console.say(f"{name}: {description}")  # too long for a prompt line
        label = name
    else:
        label = f"{description} ({name})" if description else name
    if has_current:
        label += f" [{MASK if secret else _show(current)}]"
    elif default is not _UNSET:
        label += f" [{_show(default)}]"
    elif required:
        label += " (required)"
    enum = item.get("enum")
    if isinstance(enum, list):
        console.say(f"{name}: one of {', '.join(map(_show, enum))}")
    kind = item.get("type")
    if kind in ("object", "array"):
        console.say(f"{name}: write the {kind} as JSON")
    prompt = f"{label}: "
    for _ in range(MAX_ATTEMPTS):
        if secret:
            text = console.ask_hidden(prompt)
            if text and console.ask_hidden("Repeat for confirmation: ") != text:
                console.say("error: the two entries do not match")
                continue
        else:
            text = console.ask(prompt)
        if text == "":
            if has_current:
                return current
            if required:
                console.say(f"error: {name} is required")
                continue
            return _UNSET  # the default applies, and follows the pack if the pack changes it
        try:
            return cast_value(text, item)
        except ValueError as error:
            console.say(f"error: {error}")
    raise click.ClickException(f"no valid value for {name} after {MAX_ATTEMPTS} attempts")


def apply_assignments(
    values: Mapping[str, Any], assignments: Iterable[str], schema: Mapping[str, Any]
) -> tuple[dict[str, Any], set[str]]:
    """``values`` with each ``KEY=VALUE`` set (dotted keys for nested objects), cast by the
    schema; and the dotted keys set. Raises click.BadParameter."""
    import copy

    from packhorse.params.config import object_schemas

    result = copy.deepcopy(dict(values))
    keys: set[str] = set()
    for assignment in assignments:
        key, equals, text = assignment.partition("=")
        parts = key.split(".")
        if not equals or not all(parts):
            raise click.BadParameter(f"{assignment!r}: write KEY=VALUE", param_hint="--set")
        item = _schema(schema.get(parts[0]))
        for part in parts[1:]:
            item = object_schemas(item, [part])[part]
        try:
            value = cast_value(text, item)
        except ValueError as error:
            raise click.BadParameter(f"{key}: {error}", param_hint="--set") from None
        node = result
        for part in parts[:-1]:
            inner = node.get(part)
            if not isinstance(inner, dict):
                inner = node[part] = {}
            node = inner
        node[parts[-1]] = value
        keys.add(key)
    return result, keys


def render_config(ref: str, values: Mapping[str, Any]) -> str:
    """The text of ``configs/<ref>.yaml`` (:func:`packhorse.engine.pack_config.render_config`,
    imported when needed: the CLI starts without the engine)."""
    from packhorse.engine.pack_config import render_config as render

    return render(ref, values)


def _terminal() -> Console:
    return Console(
        ask=lambda text: str(click.prompt(text, default="", show_default=False, prompt_suffix="")),
        ask_hidden=lambda text: str(
            click.prompt(text, default="", show_default=False, prompt_suffix="", hide_input=True)
        ),
        say=lambda text: click.echo(text, err=True),
    )


@click.command("config")
@click.argument("ref")
@click.option("--show", is_flag=True, help="Print the registered config, secrets masked.")
@click.option("--json", "as_json", is_flag=True, help="With --show: print JSON.")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set a value (dotted KEY for nested objects; JSON for objects and arrays). Repeatable.",
)
@click.option("--no-input", is_flag=True, help="Ask nothing: keep current values, apply --set.")
@pass_cli
def config(
    cli: CliContext,
    *,
    ref: str,
    show: bool,
    as_json: bool,
    assignments: tuple[str, ...],
    no_input: bool,
) -> None:
    """Write the config of pack REF (configs/REF.yaml) and register it, or --show it.

    Asks for each value the pack's config schema declares, unless --no-input. The values
    are checked before the file is written; the pack is then registered again.
    """
    if show:
        if assignments or no_input:
            raise click.UsageError("--show prints the config; it takes no --set or --no-input")
        _show_config(cli, ref, as_json=as_json)
        return
    if as_json:
        raise click.UsageError("--json goes with --show")
    _set_config(cli, ref, assignments, interactive=not no_input)


def _show_config(cli: CliContext, ref: str, *, as_json: bool) -> None:
    import yaml

    from packhorse.bootstrap import registry_reader
    from packhorse.errors import NotFound
    from packhorse.model.content import Kind
    from packhorse.params.config import mask_config

    reader = registry_reader(cli.settings)
    if reader.get_pack(ref) is None:
        raise NotFound("pack", ref)
    resource = reader.get_resource(Kind.CONFIG, ref)
    schema = reader.get_resource(Kind.CONFIG_SCHEMA, ref)
    values = dict(resource.body.get("values") or {}) if resource else {}
    file = resource.body.get("file") if resource else None
    masked = mask_config(values, schema.body.get("attributes") if schema else None)
    if as_json:
        echo_json({"pack": ref, "file": file, "values": masked})
        return
    source = file or "no config file: the schema's defaults"
    click.echo(f"# pack {ref} ({source})")
    if masked:
        click.echo(yaml.safe_dump(masked, sort_keys=False, allow_unicode=True).rstrip("\n"))
    else:
        click.echo("{}")


def _pack_schema(cli: CliContext, ref: str) -> tuple[Mapping[str, Any], str]:
    """The config schema (in the order the pack's file gives) and the pack's folder name."""
    from packhorse.engine.pack_config import config_schema

    return config_schema(cli.settings, ref)


def _set_config(
    cli: CliContext, ref: str, assignments: tuple[str, ...], *, interactive: bool
) -> None:
    from packhorse.engine.pack_config import check_config, current_config, save_config

    settings = cli.settings
    schema, folder = _pack_schema(cli, ref)
    path = settings.configs_dir / f"{ref}.yaml"
    values, given = apply_assignments(current_config(settings, ref), assignments, schema)
    if interactive:
        if not schema:
            raise click.UsageError(
                f"pack {ref!r} has no config schema, so there is nothing to ask: "
                "set values with --no-input --set KEY=VALUE"
            )
        values = ask_config(schema, values, _terminal(), skip=given)
    diagnostics = check_config(settings, ref, values, schema)
    for diagnostic in diagnostics:
        click.echo(diagnostic.format(), err=True)
    if any(d.is_error for d in diagnostics):
        click.echo(f"Nothing written: fix the values above ({path} is unchanged).", err=True)
        raise SystemExit(1)
    saved = save_config(settings, ref, values, schema, folder)
    for name in saved.stored_secrets:
        key = name.removeprefix(f"{ref}_")
        click.echo(f"Stored {key} encrypted in the datastore as {name}.")
    click.echo(f"Wrote {path}")
    for diagnostic in saved.diagnostics:
        click.echo(diagnostic.format(), err=True)
    if not saved.registered:
        click.echo(
            f"The config is written, but pack {ref!r} did not register: fix the errors above "
            f"and run 'packhorse pack register {folder}'.",
            err=True,
        )
        raise SystemExit(1)
    click.echo(f"Registered the config of pack {ref}.")
