"""Alias matching: chat commands per second through ``packhorse.aliases.match_command``.

Aliases: 200, each with two format strings of the shapes real packs use (a verb and a
placeholder; a placeholder with a default; a regex alternative with an optional part), so 400
formats; every command is tried against all of them, because exactly one may match. Commands:
1,000, each matching one alias format, a fifth with trailing ``key=value`` pairs.

Floor, measured in the same run: the same 400 formats' compiled regular expressions searched
directly (no pair splitting, no pre-check, no defaults, no ambiguity bookkeeping): the least
work any matcher with StackStorm's grammar does, since it must try every format.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import median_seconds, print_table

from packhorse.aliases.formats import compile_format, representations
from packhorse.aliases.matching import match_command
from packhorse.model.content import Kind, Resource

ALIASES = 200
COMMANDS = 1000
REPEATS = 5
TARGET_PER_SECOND = 200


def make_aliases() -> list[Resource]:
    aliases = []
    for n in range(ALIASES):
        formats = [
            f"verb{n} {{{{ target }}}}",
            {
                "display": f"other{n} <host> [on <env>]",
                "representation": [f"(other{n}|alt{n}) {{{{ host }}}}( on {{{{ env = prod }}}})?"],
            },
        ]
        body = {"name": f"a{n}", "action_ref": f"bench.a{n}", "formats": formats}
        aliases.append(
            Resource(Kind.ALIAS, f"bench.a{n}", "bench", f"a{n}", "aliases/a.yaml", body)
        )
    return aliases


def make_commands() -> list[str]:
    commands = []
    for n in range(COMMANDS):
        alias = n % ALIASES
        command = f"verb{alias} web-{n}" if n % 2 else f"alt{alias} db-{n} on staging"
        if n % 5 == 0:
            command += f' ticket=T-{n} note="by bench"'
        commands.append(command)
    return commands


def matcher_loop(aliases: list[Resource], commands: list[str]) -> Callable[[], int]:
    def run() -> int:
        return sum(1 for command in commands if match_command(aliases, command))

    return run


def floor_loop(aliases: list[Resource], commands: list[str]) -> Callable[[], int]:
    patterns = [
        compile_format(r.text).pattern
        for alias in aliases
        for r in representations(alias.body["formats"])
    ]

    def run() -> int:
        found = 0
        for command in commands:
            padded = f" {command} "
            found += sum(1 for pattern in patterns if pattern.search(padded))
        return found

    return run


def main() -> int:
    aliases, commands = make_aliases(), make_commands()
    matcher_loop(aliases, commands)()  # compile and cache every format once
    seconds = median_seconds(matcher_loop(aliases, commands), REPEATS)
    floor = median_seconds(floor_loop(aliases, commands), REPEATS)
    per_second = COMMANDS / seconds
    verdict = "met" if per_second >= TARGET_PER_SECOND else "NOT MET"
    rows = [
        (
            f"{ALIASES} aliases, {ALIASES * 2} formats, {COMMANDS} commands",
            seconds,
            floor,
            f">= {TARGET_PER_SECOND}/s: {verdict} ({per_second:,.0f}/s)",
        )
    ]
    print_table(f"Alias matching, median of {REPEATS} runs", rows)
    return 0 if per_second >= TARGET_PER_SECOND else 1


if __name__ == "__main__":
    raise SystemExit(main())
