"""The console's datastore page: the system keys and the signed-in user's own, secrets
always shown as ``********`` (the page never decrypts one), and forms to set and delete a
key. Who may do what is ``/api/v1/keys``'s rule: anyone reads the system keys and their own;
an operator writes their own user-scoped keys, an admin the system ones. A secret set from the
form is stored encrypted and never rendered back, not even into a refused form."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from packhorse.api.deps import runtime
from packhorse.errors import NotFound, PackhorseError
from packhorse.model.datastore import KeyValue, Scope
from packhorse.web.rendering import PREFIX, posted_form, render
from packhorse.web.session import Forbidden, Session, require_session

MASK = "********"
LIMIT = 500


def may_write(session: Session, scope: Scope) -> bool:
    """As the API: one's own user-scoped keys need operator, the system ones admin."""
    return session.principal.may("admin" if scope is Scope.SYSTEM else "operator")


def _shown(pair: KeyValue) -> str:
    return MASK if pair.secret else pair.value


def _scope(text: str) -> Scope | None:
    try:
        return Scope.parse(text)
    except ValueError:
        return None


def router() -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    def _page(
        request: Request,
        session: Session,
        *,
        values: dict[str, str] | None = None,
        problem: str | None = None,
        done: str = "",
        status_code: int = 200,
    ) -> Response:
        datastore = runtime(request).datastore
        user = session.principal.user
        system = datastore.list_values(scope=Scope.SYSTEM, limit=LIMIT)
        own = datastore.list_values(scope=Scope.USER, user=user, limit=LIMIT)
        writable = [s.value for s in (Scope.USER, Scope.SYSTEM) if may_write(session, s)]
        kept = {k: v for k, v in (values or {}).items() if k in ("name", "scope", "description")}
        return render(
            request,
            "datastore.html",
            session=session,
            title="Datastore",
            sections=[
                ("system", "System keys", [(p, _shown(p)) for p in system], Scope.SYSTEM),
                ("user", f"Your keys ({user})", [(p, _shown(p)) for p in own], Scope.USER),
            ],
            may_write={s: may_write(session, s) for s in Scope},
            writable=writable,
            values=kept,
            problem=problem,
            done=done,
            status_code=status_code,
        )

    @routes.get(f"{PREFIX}/datastore")
    def datastore_page(request: Request, done: str = "") -> Response:
        session = require_session(request)
        return _page(request, session, done=done)

    async def _checked(request: Request) -> tuple[Session, dict[str, str], Scope]:
        session, form = await posted_form(request)
        scope = _scope(form.get("scope", ""))
        if scope is None:
            raise Forbidden(f"Unknown scope {form.get('scope', '')!r}.")
        if not may_write(session, scope):
            needed = "admin" if scope is Scope.SYSTEM else "operator"
            whose = "system-scoped keys" if scope is Scope.SYSTEM else "your keys"
            raise Forbidden(
                f'User "{session.principal.user}" may not change {whose} (needs {needed}).'
            )
        return session, form, scope

    @routes.post(f"{PREFIX}/datastore")
    async def set_key(request: Request) -> Response:
        session, form, scope = await _checked(request)
        name = form.get("name", "").strip()
        value = form.get("value", "")
        ttl_text = form.get("ttl", "").strip()
        problem = None
        if not name:
            problem = "A key needs a name."
        elif ttl_text and not ttl_text.isdigit():
            problem = "Expires after: a whole number of seconds."
        if problem is None:
            try:
                await run_in_threadpool(
                    lambda: runtime(request).datastore.set_value(
                        name,
                        value,
                        scope=scope,
                        user=session.principal.user if scope is Scope.USER else "",
                        secret=form.get("secret") == "true",
                        ttl=int(ttl_text) if ttl_text else None,
                        description=form.get("description", "").strip(),
                    )
                )
            except PackhorseError as error:
                problem = error.message
        if problem is not None:
            return _page(request, session, values=form, problem=problem, status_code=400)
        return RedirectResponse(f"{PREFIX}/datastore?done=set", status_code=303)

    @routes.post(f"{PREFIX}/datastore/delete")
    async def delete_key(request: Request) -> Response:
        session, form, scope = await _checked(request)
        name = form.get("name", "")
        try:
            await run_in_threadpool(
                runtime(request).datastore.delete_value,
                name,
                scope=scope,
                user=session.principal.user if scope is Scope.USER else "",
            )
        except NotFound:
            return _page(request, session, problem=f"There is no key {name}.", status_code=404)
        return RedirectResponse(f"{PREFIX}/datastore?done=deleted", status_code=303)

    return routes
