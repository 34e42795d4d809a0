"""The console's upgrade page (read-only): the journal of the last ``upgrade run``, the
verify report it recorded, and the front's cutover state.

Where they are is set in ``packhorse.toml`` (both optional; a relative path is relative to
the instance folder)::

    [web]
    upgrade_journal = "/srv/upgrades/plan.journal.jsonl"   # upgrade run's --journal
    front_state = "/srv/front/state.json"                  # the front's state file

Without them, or before the files exist, the page says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from packhorse import bootstrap
from packhorse.api.deps import settings
from packhorse.errors import ConfigurationError
from packhorse.front.state import FrontState, load_state
from packhorse.migrate.upgrade_journal import Journal
from packhorse.settings import Settings
from packhorse.web import journal, views
from packhorse.web.rendering import PREFIX, render
from packhorse.web.session import require_session


def configured_path(config: Settings, key: str) -> Path | None:
    """``[web] <key>`` as an absolute path, or None when it is not set."""
    section = config.extra.get("web")
    value = section.get(key) if isinstance(section, dict) else None
    if not isinstance(value, str) or not value.strip():
        return None
    return config.home / value.strip()  # an absolute value stays as it is


def _journal(path: Path | None) -> tuple[journal.JournalSummary | None, str | None]:
    if path is None:
        return None, None
    try:
        return journal.summarize(Journal.read(path).state.events), None
    except ConfigurationError as error:
        return None, error.message


def _front(path: Path | None) -> tuple[FrontState | None, str | None]:
    if path is None:
        return None, None
    try:
        return load_state(path), None
    except ConfigurationError as error:
        return None, error.message


def _masked(value: Any) -> str:
    return views.pretty_json(bootstrap.redactor().redact(value))


def router() -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get(f"{PREFIX}/upgrade")
    def upgrade_page(request: Request) -> Response:
        session = require_session(request)
        config = settings(request)
        journal_path = configured_path(config, "upgrade_journal")
        front_path = configured_path(config, "front_state")
        summary, journal_problem = _journal(journal_path)
        front, front_problem = _front(front_path)
        return render(
            request,
            "upgrade.html",
            session=session,
            title="Upgrade",
            journal_path=journal_path,
            summary=summary,
            journal_problem=journal_problem,
            outputs={row.step: _masked(dict(row.outputs)) for row in summary.steps}
            if summary
            else {},
            verify=_masked(dict(summary.verify)) if summary and summary.verify else "",
            front_path=front_path,
            front=front,
            front_problem=front_problem,
        )

    return routes
