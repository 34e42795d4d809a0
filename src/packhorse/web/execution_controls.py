"""The buttons of an execution's page: cancel and re-run. Each goes through the engine's
:class:`~packhorse.engine.executions.ExecutionService` as the API does (``DELETE
/api/v1/executions/ID`` and ``POST /api/v1/executions/ID/re_run``), for an operator or admin,
the form's CSRF token checked. A re-run posts nothing but the id: the parameters, secret ones
still encrypted, are taken from the stored execution, never from the page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from packhorse.api.deps import runtime
from packhorse.errors import Conflict, NotFound, PackhorseError
from packhorse.model.execution import Execution, Status
from packhorse.web.rendering import PREFIX, not_found, posted_form, render
from packhorse.web.session import Session


def cancelable(execution: Execution) -> bool:
    """The cancel button's rule: what ``DELETE /api/v1/executions/ID`` acts on (not ended),
    less ``canceling``, where a cancel has been asked already."""
    return not execution.completed and execution.status is not Status.CANCELING


def _refused(request: Request, session: Session, title: str, message: str) -> Response:
    return render(
        request, "error.html", session=session, title=title, message=message, status_code=409
    )


def _missing(request: Request, session: Session, execution_id: str) -> Response:
    message = f"There is no execution {execution_id}."
    return not_found(request, session, "Execution not found", message)


def router() -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.post(f"{PREFIX}/executions/{{execution_id}}/cancel")
    async def cancel(request: Request, execution_id: str) -> Response:
        session, _ = await posted_form(request, needs="operator", doing="cancel executions")
        service = runtime(request).executions
        try:
            execution = await run_in_threadpool(service.get, execution_id)
            if execution.status is not Status.CANCELED:
                await run_in_threadpool(service.cancel, execution_id)
        except NotFound:
            return _missing(request, session, execution_id)
        except Conflict as error:
            return _refused(
                request, session, "Cannot cancel", f"Action cannot be canceled. {error.message}"
            )
        return RedirectResponse(f"{PREFIX}/executions/{execution_id}", status_code=303)

    @routes.post(f"{PREFIX}/executions/{{execution_id}}/re-run")
    async def re_run(request: Request, execution_id: str) -> Response:
        session, _ = await posted_form(request, needs="operator", doing="run actions")
        service = runtime(request).executions
        try:
            fresh = await run_in_threadpool(
                lambda: service.re_run(execution_id, user=session.principal.user, overrides={})
            )
        except NotFound:
            return _missing(request, session, execution_id)
        except PackhorseError as error:
            return _refused(request, session, "Cannot re-run", error.message)
        return RedirectResponse(f"{PREFIX}/executions/{fresh.id}", status_code=303)

    return routes
