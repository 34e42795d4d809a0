"""The console's inquiries: those waiting for an answer (and the row their live list fetches
for one), and a page for each with a form generated from its response schema. Answering goes
through the engine's :class:`~packhorse.engine.inquiries.InquiryService` as
``PUT /api/v1/inquiries/ID`` does: an operator or admin, named by the inquiry's ``users`` and
holding one of its ``roles`` when it lists them; the answer must match the schema; the waiting
workflow resumes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from packhorse.api.deps import runtime
from packhorse.engine.inquiries import Inquiry, InvalidResponse, NotPermitted, permission_problem
from packhorse.errors import Conflict, NotFound
from packhorse.web import forms, views
from packhorse.web.rendering import PREFIX, not_found, posted_form, render
from packhorse.web.session import CSRF_FIELD, Forbidden, Session, require_session


def _refusal(session: Session, inquiry: Inquiry) -> str | None:
    """Why this user may not answer (None: they may), in the API's words."""
    principal = session.principal
    if not principal.may("operator"):
        return f"Your role is {principal.role}; answering needs operator."
    problem = permission_problem(inquiry, user=principal.user, role=principal.role)
    if problem is None:
        return None
    return f"{problem.message} ({problem.hint})" if problem.hint else problem.message


def _task(request: Request, inquiry: Inquiry) -> str | None:
    try:
        return views.task_name(runtime(request).executions.get(inquiry.id).context)
    except NotFound:
        return None


def router() -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get(f"{PREFIX}/inquiries")
    def inquiries_page(request: Request) -> Response:
        session = require_session(request)
        pending = runtime(request).inquiries.list(limit=100)
        return render(
            request,
            "inquiries.html",
            session=session,
            title="Inquiries",
            inquiries=[(inquiry, _task(request, inquiry)) for inquiry in pending],
        )

    @routes.get(f"{PREFIX}/inquiries/{{inquiry_id}}/row")
    def inquiry_row(request: Request, inquiry_id: str) -> Response:
        """One row of the list (the live list fetches it when an inquiry starts waiting)."""
        session = require_session(request)
        try:
            inquiry = runtime(request).inquiries.get(inquiry_id)
        except NotFound:
            return HTMLResponse("", status_code=404)
        return render(
            request,
            "_inquiry_row.html",
            session=session,
            inquiry=inquiry,
            task=_task(request, inquiry),
        )

    def _page(
        request: Request,
        session: Session,
        inquiry: Inquiry,
        *,
        values: Mapping[str, str] | None = None,
        errors: Mapping[str, str] | None = None,
        problem: str | None = None,
        status_code: int = 200,
    ) -> Response:
        fields = forms.response_fields(inquiry.schema)
        secret = {f.name for f in fields if f.widget is forms.Widget.PASSWORD} | {CSRF_FIELD}
        return render(
            request,
            "inquiry.html",
            session=session,
            title="Inquiry",
            inquiry=inquiry,
            task=_task(request, inquiry),
            description=str(inquiry.schema.get("description") or inquiry.schema.get("title") or ""),
            fields=fields,
            values={k: v for k, v in (values or {}).items() if k not in secret},
            errors=dict(errors or {}),
            problem=problem,
            refusal=_refusal(session, inquiry),
            response=views.pretty_json(_masked(fields, inquiry.response)),
            status_code=status_code,
        )

    @routes.get(f"{PREFIX}/inquiries/{{inquiry_id}}")
    def inquiry_page(request: Request, inquiry_id: str) -> Response:
        session = require_session(request)
        try:
            inquiry = runtime(request).inquiries.get(inquiry_id)
        except NotFound:
            return not_found(
                request, session, "Inquiry not found", f"There is no inquiry {inquiry_id}."
            )
        return _page(request, session, inquiry)

    @routes.post(f"{PREFIX}/inquiries/{{inquiry_id}}")
    async def answer(request: Request, inquiry_id: str) -> Response:
        session, form = await posted_form(request)
        service = runtime(request).inquiries
        try:
            inquiry = await run_in_threadpool(service.get, inquiry_id)
        except NotFound:
            return not_found(
                request, session, "Inquiry not found", f"There is no inquiry {inquiry_id}."
            )
        refusal = _refusal(session, inquiry)
        if refusal is not None:
            raise Forbidden(refusal)
        submission = forms.read(forms.response_fields(inquiry.schema), form)
        if submission.errors:
            return _page(
                request,
                session,
                inquiry,
                values=form,
                errors=submission.errors,
                problem="Some answers need fixing.",
                status_code=400,
            )
        principal = session.principal
        try:
            await run_in_threadpool(
                service.respond,
                inquiry_id,
                submission.parameters,
                user=principal.user,
                role=principal.role,
            )
        except NotPermitted as error:
            raise Forbidden(error.message) from None
        except (InvalidResponse, Conflict) as error:
            fresh = await run_in_threadpool(service.get, inquiry_id)
            return _page(
                request, session, fresh, values=form, problem=error.message, status_code=400
            )
        target = inquiry.parent or inquiry.id
        return RedirectResponse(f"{PREFIX}/executions/{target}", status_code=303)

    return routes


def _masked(fields: list[forms.Field], response: Any) -> Any:
    """An answer as the page shows it: secret properties as ``********``."""
    if not isinstance(response, Mapping):
        return response
    secret = {f.name for f in fields if f.widget is forms.Widget.PASSWORD}
    return {k: ("********" if k in secret else v) for k, v in response.items()}
