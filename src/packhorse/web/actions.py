"""The console's actions: the list (by pack, with a search) and the run form generated from
an action's parameter schema; a run goes to the new execution's page."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from packhorse import bootstrap
from packhorse.api.deps import runtime, settings
from packhorse.engine.executions import ActionUnavailable
from packhorse.errors import PackhorseError, ParameterError
from packhorse.model.content import Kind, Resource
from packhorse.params import schema_for_action
from packhorse.web import forms
from packhorse.web.rendering import PREFIX, not_found, posted_form, render
from packhorse.web.session import CSRF_FIELD, Session, require_session


def _action_form(action: Resource) -> list[forms.Field]:
    schema, runner_names = schema_for_action(action.body)
    return forms.fields(schema, runner_names)


def router() -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get(f"{PREFIX}/actions")
    def actions_page(request: Request, pack: str = "", q: str = "") -> Response:
        session = require_session(request)
        registry = bootstrap.cached_registry(settings(request))
        actions = registry.list_resources(Kind.ACTION, pack.strip() or None)
        needle = q.strip().lower()
        if needle:
            actions = [
                action
                for action in actions
                if needle in action.ref.lower()
                or needle in str(action.body.get("description") or "").lower()
            ]
        by_pack: dict[str, list[Resource]] = {}
        for action in actions:
            by_pack.setdefault(action.pack, []).append(action)
        return render(
            request,
            "actions.html",
            session=session,
            title="Actions",
            by_pack=by_pack,
            packs=[found.ref for found in registry.list_packs()],
            pack=pack.strip(),
            q=q.strip(),
            may_run=session.principal.may("operator"),
        )

    def _action(request: Request, ref: str) -> Resource | None:
        found = bootstrap.cached_registry(settings(request)).get_resource(Kind.ACTION, ref)
        return found if isinstance(found, Resource) else None

    def _run_form(
        request: Request,
        session: Session,
        action: Resource,
        *,
        values: Mapping[str, str] | None = None,
        errors: Mapping[str, str] | None = None,
        problem: str | None = None,
        status_code: int = 200,
    ) -> Response:
        fields = _action_form(action)
        return render(
            request,
            "action.html",
            session=session,
            title=f"Run {action.ref}",
            action=action,
            description=str(action.body.get("description") or ""),
            runner_type=str(action.body.get("runner_type") or ""),
            main_fields=[f for f in fields if f.required or not f.runner],
            more_fields=[f for f in fields if not f.required and f.runner],
            values={k: v for k, v in (values or {}).items() if not _is_secret(fields, k)},
            errors=dict(errors or {}),
            problem=problem,
            may_run=session.principal.may("operator"),
            status_code=status_code,
        )

    @routes.get(f"{PREFIX}/actions/{{ref}}")
    def action_page(request: Request, ref: str) -> Response:
        session = require_session(request)
        action = _action(request, ref)
        if action is None:
            return not_found(request, session, "Action not found", f"There is no action {ref}.")
        return _run_form(request, session, action)

    @routes.post(f"{PREFIX}/actions/{{ref}}")
    async def run_action(request: Request, ref: str) -> Response:
        session, form = await posted_form(request, needs="operator", doing="run actions")
        action = _action(request, ref)
        if action is None:
            return not_found(request, session, "Action not found", f"There is no action {ref}.")
        submission = forms.read(_action_form(action), form)
        if submission.errors:
            return _run_form(
                request,
                session,
                action,
                values=form,
                errors=submission.errors,
                problem="Some parameters need fixing.",
                status_code=400,
            )
        rt = runtime(request)
        try:
            execution = await run_in_threadpool(
                rt.executions.request,
                action.ref,
                submission.parameters,
                user=session.principal.user,
                context={"source": "web console"},
            )
        except ParameterError as error:
            named = error.parameters or ((error.parameter,) if error.parameter else ())
            return _run_form(
                request,
                session,
                action,
                values=form,
                errors={name: error.message for name in named},
                problem=error.message,
                status_code=400,
            )
        except (ActionUnavailable, PackhorseError) as error:
            return _run_form(
                request, session, action, values=form, problem=error.message, status_code=400
            )
        return RedirectResponse(f"{PREFIX}/executions/{execution.id}", status_code=303)

    return routes


def _is_secret(fields: list[forms.Field], name: str) -> bool:
    """Secret values are never sent back into a page (a refused form asks for them again)."""
    return name == CSRF_FIELD or any(
        f.name == name and f.widget is forms.Widget.PASSWORD for f in fields
    )
