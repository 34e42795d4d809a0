"""``packhorse upgrade verify``: does the candidate instance do what the baseline did?"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING

import click

from packhorse.cli.instance_arg import InstanceArg, LocalInstance, open_instance
from packhorse.cli.main import CliContext
from packhorse.cli.output import echo_json, echo_table

if TYPE_CHECKING:
    from packhorse.migrate.verify import EventSource, Shadow
    from packhorse.migrate.verify_diff import Expectation, PackTest, VerifyReport

pass_cli = click.make_pass_decorator(CliContext)

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> dt.timedelta:
    """``30m``, ``12h``, ``7d``, ``2w``..."""
    found = _DURATION.match(text)
    if found is None:
        raise click.BadParameter(
            f"{text!r} is not a duration: a number and a unit, s, m, h, d or w (e.g. 24h)",
            param_hint="--since",
        )
    return dt.timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})


@click.command("verify")
@click.option(
    "--baseline",
    "baseline_text",
    required=True,
    metavar="OLD",
    help="The instance in service: a folder or an API URL.",
)
@click.option(
    "--candidate",
    "candidate_text",
    required=True,
    metavar="NEW",
    help="The new instance: a folder or an API URL.",
)
@click.option(
    "--since",
    "since_text",
    metavar="DURATION",
    help="Only trigger instances of this last period (e.g. 24h, 7d).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Replay at most this many trigger instances (the newest).",
)
@click.option("--skip-tests", is_flag=True, help="Do not run the candidate's pack tests.")
@click.option(
    "--expect",
    "expect_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML list of accepted differences: {rule: REF, field: PATH}.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_cli
def verify(
    cli: CliContext,
    baseline_text: str,
    candidate_text: str,
    since_text: str | None,
    limit: int,
    skip_tests: bool,
    expect_file: Path | None,
    as_json: bool,
) -> None:
    """Replay the baseline's recorded trigger instances against both instances in shadow and
    diff what their rules do; run the candidate's pack tests.

    Each of the last --limit trigger instances the baseline recorded is matched against the
    rules of the baseline and of the candidate, and each matched rule's action parameters are
    rendered (each instance with its own datastore and pack configs); no action runs and
    nothing is written. Differences are listed one per line: trigger instance, rule, kind
    (matched only in baseline / only in candidate, action, parameter or request error
    differs), field (criteria, action, parameters.NAME...) and both values. Secrets are
    compared by keyed fingerprint and shown masked. Where the baseline's replay disagrees with
    the enforcements it recorded (a rule edited since), the line says 'baseline drift': shown,
    not counted against the candidate.

    OLD and NEW are instance folders or API URLs (an admin's credentials: --api-key,
    $PACKHORSE_API_KEY, $PACKHORSE_TOKEN or 'packhorse login --url URL'). Pack tests run for a
    local candidate only. Exit status: 0 when no unexpected difference, 1 otherwise, 2 when
    an instance cannot be read.
    """
    from packhorse.migrate.verify import recorded_traffic
    from packhorse.migrate.verify import verify as run_verify

    baseline = open_instance(cli, baseline_text, option="--baseline")
    candidate = open_instance(cli, candidate_text, option="--candidate")
    since = None
    if since_text is not None:
        from packhorse.engine.clock import iso, utc_now

        since = iso(utc_now() - parse_duration(since_text))
    expectations = _expectations(expect_file) if expect_file is not None else []
    traffic = recorded_traffic(_events(baseline), since=since, limit=limit)
    pack_tests: list[PackTest] = []
    skipped: str | None = None
    if skip_tests:
        skipped = "--skip-tests"
    elif isinstance(candidate, LocalInstance):
        from packhorse.migrate.verify_local import local_pack_tests

        say = (lambda _line: None) if as_json else (lambda line: click.echo(line, err=True))
        pack_tests = local_pack_tests(candidate.settings, say)
    else:
        skipped = "the candidate is remote: run 'packhorse pack test REF' on its machine"
    report = run_verify(
        traffic,
        _shadow(baseline),
        _shadow(candidate),
        names=(baseline.name, candidate.name),
        pack_tests=pack_tests,
        pack_tests_skipped=skipped,
        expectations=expectations,
    )
    if as_json:
        echo_json(report.to_dict())
    else:
        _print(report)
    if report.unexpected:
        raise click.exceptions.Exit(1)


def _events(instance: InstanceArg) -> EventSource:
    if isinstance(instance, LocalInstance):
        from packhorse.migrate.verify_local import local_events

        return local_events(instance.settings)
    from packhorse.client.remote import RemoteEvents

    return RemoteEvents(instance.api)


def _shadow(instance: InstanceArg) -> Shadow:
    if isinstance(instance, LocalInstance):
        from packhorse.migrate.verify_local import local_shadow

        return local_shadow(instance.settings)
    from packhorse.client.shadow import RemoteShadow

    return RemoteShadow(instance.api)


def _expectations(path: Path) -> list[Expectation]:
    import yaml

    from packhorse.migrate.verify_diff import parse_expectations

    try:
        return parse_expectations(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (ValueError, yaml.YAMLError) as error:
        raise click.BadParameter(f"{path}: {error}", param_hint="--expect") from None


def _print(report: VerifyReport) -> None:
    from packhorse.migrate.verify_diff import PackTestStatus

    if report.differences:
        echo_table(
            ["trigger instance", "rule", "kind", "field", "baseline", "candidate"],
            [
                [
                    d.trigger_instance,
                    d.rule,
                    d.kind.label
                    + (" (timestamps only)" if d.timestamp_only else "")
                    + (" (expected)" if d.expected else ""),
                    d.field,
                    d.baseline,
                    d.candidate,
                ]
                for d in report.differences
            ],
        )
    failed = [
        t for t in report.pack_tests if t.status in (PackTestStatus.FAILED, PackTestStatus.ERROR)
    ]
    for test in failed:
        click.echo(f"pack {test.pack}: tests {test.status.value}")
        for line in test.detail.splitlines():
            click.echo(f"  {line}")
    click.echo(report.summary())
