"""Inquiries: the questions ``core.ask`` (the ``inquirer`` runner) asks, and their answers.

An inquiry is an execution of an ``inquirer`` action left ``pending``. Answering it checks the
answer against the question's schema (StackStorm's, where ``required: true`` may sit on a
property), completes the execution with ``response`` added to its result and, when it belongs
to a workflow, asks the root workflow to resume, all in one transaction: the workflow carries
on with the answer in ``result().response``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from packhorse.engine.clock import ISO, iso, parse_iso, utc_now
from packhorse.engine.observer import NO_OBSERVER, Observer
from packhorse.errors import Conflict, NotFound, PackhorseError
from packhorse.model.auth import role_covers
from packhorse.model.execution import Execution, Status
from packhorse.params.documents import response_problems
from packhorse.storage.executions import ExecutionFilter, SqlExecutionStore
from packhorse.storage.workflows import complete_with_events

RUNNER = "inquirer"


class InvalidResponse(PackhorseError):
    """The answer does not satisfy the inquiry's schema."""


class NotPermitted(PackhorseError):
    """The user may not answer this inquiry."""


@dataclass(frozen=True, slots=True)
class Inquiry:
    id: str
    status: str
    schema: Mapping[str, Any]
    roles: list[str]
    users: list[str]
    route: str
    ttl: int
    parent: str | None
    created_at: str
    response: Any = None

    def as_dict(self) -> dict[str, Any]:
        document = {
            "id": self.id,
            "status": self.status,
            "route": self.route,
            "ttl": self.ttl,
            "users": self.users,
            "roles": self.roles,
            "schema": dict(self.schema),
            "parent": self.parent,
            "created_at": self.created_at,
        }
        if self.response is not None:
            document["response"] = self.response
        return document


def _inquiry(execution: Execution) -> Inquiry:
    result = execution.result if isinstance(execution.result, Mapping) else {}
    return Inquiry(
        id=execution.id,
        status=execution.status.value,
        schema=result.get("schema") or {},
        roles=list(result.get("roles") or []),
        users=list(result.get("users") or []),
        route=str(result.get("route") or ""),
        ttl=int(result.get("ttl") or 0),
        parent=execution.parent_id,
        created_at=execution.created_at,
        response=result.get("response"),
    )


def permission_problem(inquiry: Inquiry, *, user: str, role: str | None) -> NotPermitted | None:
    """Why ``user`` (of ``role``) may not answer ``inquiry``, or None when they may. As in
    StackStorm both checks must pass: the ``users`` list, when given, names the user; the
    ``roles`` list, when given, has a role the user holds (``admin`` holds every role, and
    ``operator`` the ``viewer`` one: :func:`~packhorse.model.auth.role_covers`)."""
    if inquiry.users and user not in inquiry.users:
        return NotPermitted(
            f"user {user!r} may not answer inquiry {inquiry.id}",
            hint=f"allowed users: {', '.join(inquiry.users)}",
        )
    if inquiry.roles and not any(role_covers(role, wanted) for wanted in inquiry.roles):
        return NotPermitted(
            f"user {user!r} (role {role or 'none'}) may not answer inquiry {inquiry.id}",
            hint=f"allowed roles: {', '.join(inquiry.roles)}",
        )
    return None


class InquiryService:
    def __init__(
        self,
        store: SqlExecutionStore,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
        on_answer: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._on_answer = on_answer
        self.observer: Observer = NO_OBSERVER
        """Told when an inquiry's execution ends (answered or timed out)."""

    def list(self, *, limit: int = 100) -> list[Inquiry]:
        """Inquiries waiting for an answer, newest first."""
        pending = self._store.find(ExecutionFilter(statuses=(Status.PENDING,), limit=limit))
        return [_inquiry(e) for e in pending if e.runner_type == RUNNER]

    def _execution(self, inquiry_id: str) -> Execution:
        execution = self._store.get(inquiry_id)
        if execution is None or execution.runner_type != RUNNER:
            raise NotFound("inquiry", inquiry_id)
        return execution

    def get(self, inquiry_id: str) -> Inquiry:
        return _inquiry(self._execution(inquiry_id))

    def respond(self, inquiry_id: str, response: Any, *, user: str, role: str | None) -> Inquiry:
        """Answer as ``user`` of ``role`` (None: a user without one). Raises
        :class:`NotPermitted` unless both :func:`permission_problem` checks pass."""
        execution = self._execution(inquiry_id)
        inquiry = _inquiry(execution)
        if execution.status is not Status.PENDING:
            raise Conflict(
                f"inquiry {inquiry_id} is {execution.status.value}, not pending: "
                "it has been answered or has expired"
            )
        if refusal := permission_problem(inquiry, user=user, role=role):
            raise refusal
        problems = response_problems(inquiry.schema, response)
        if problems:
            raise InvalidResponse(
                f"the response does not match the inquiry's schema: {'; '.join(problems)}",
                hint="see 'packhorse inquiry get " + inquiry_id + "' for the schema",
            )
        result = {**(execution.result or {}), "response": response}
        events = []
        root = self._root(execution)
        if root is not None:
            events.append((root, {"request": "resume"}))
        now = iso(self._clock())
        if not complete_with_events(
            self._store.engine,
            inquiry_id,
            Status.SUCCEEDED,
            now=now,
            expected=(Status.PENDING,),
            result=result,
            events=events,
        ):
            raise Conflict(f"inquiry {inquiry_id} was answered or expired meanwhile")
        self._ended(execution, Status.SUCCEEDED)
        self._on_answer()
        return self.get(inquiry_id)

    def _root(self, execution: Execution) -> str | None:
        """The outermost workflow above ``execution`` (StackStorm resumes that one)."""
        root = None
        parent_id = execution.parent_id
        while parent_id is not None:
            root = parent_id
            parent = self._store.get(parent_id)
            parent_id = parent.parent_id if parent is not None else None
        return root

    def expire(self) -> int:
        """Inquiries older than their ``ttl`` (minutes; 0 = never) end ``timeout``."""
        now = self._clock()
        expired = 0
        for inquiry in self.list(limit=10_000):
            if inquiry.ttl <= 0:
                continue
            created = dt.datetime.strptime(inquiry.created_at, ISO).replace(tzinfo=dt.UTC)
            if created + dt.timedelta(minutes=inquiry.ttl) <= now:
                stamp = iso(now)
                if self._store.transition(
                    inquiry.id, Status.TIMEOUT, now=stamp, expected=(Status.PENDING,)
                ):
                    expired += 1
                    self._ended(self._execution(inquiry.id), Status.TIMEOUT)
        return expired

    def _ended(self, execution: Execution, status: Status) -> None:
        started = execution.start_timestamp
        seconds = (self._clock() - parse_iso(started)).total_seconds() if started else None
        self.observer.execution_finished(
            RUNNER, status, seconds, workflow_task=execution.parent_id is not None
        )
