"""``/api/v1/packhorse/intake`` and ``/api/v1/packhorse/handover``: what ``packhorse
cutover`` and ``packhorse rollback`` drive on a remote instance (admin only; not StackStorm's).

* ``GET intake``: the intake, the acknowledgement of each process, who has not applied the
  current generation yet, and the executions still in flight.
* ``PUT intake`` ``{"state": "open"|"draining"|"closed", "successor", "reason"}``.
* ``GET recipient-key`` (the receiver): ``{"recipient": "phr1:..."}``, this instance's
  X25519 recipient public key (created if missing), which a sender seals secrets for.
* ``GET handover?recipient=phr1:...``: held trigger instances and queued top-level executions
  not handed over, each secret parameter sealed for ``recipient`` (``phseal1:...``). Without
  ``recipient`` a parcel holding a secret is refused (400).
* ``POST handover`` (the receiver): store them under their own ids; known ids are skipped, so
  a repeated handover stores nothing twice. Answers how many were new. A sealed value that
  does not open here refuses the whole parcel (400 naming the execution and parameter).
* ``POST handover/done`` (the sender) ``{"successor", "trigger_instances": [ids],
  "executions": [ids]}``: mark them handed over (``handed_over``; ``canceled`` with a result
  naming the successor).
* ``POST handover/release``: the held trigger instances are processed here after all (a
  rollback reopens the old instance: what it held meanwhile is its own again).
"""

from __future__ import annotations

from typing import Any, cast

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from packhorse.api import openapi
from packhorse.api.errors import fault
from packhorse.api.security import require
from packhorse.api.v1.listing import json_object
from packhorse.engine.intake import HandoverService
from packhorse.errors import HandoverRefused
from packhorse.model.intake import IntakeStatus, Parcel

_STATES = {"type": "string", "enum": [status.value for status in IntakeStatus]}
_NULLABLE_STRING = {"type": ["string", "null"]}
_PARCEL = {
    "trigger_instances": {"type": "array", "items": openapi.OBJECT},
    "executions": {"type": "array", "items": openapi.OBJECT},
}


_RECIPIENT = {
    "type": "object",
    "properties": {"recipient": {"type": "string", "pattern": "^phr1:"}},
    "required": ["recipient"],
}


def _service(request: Request) -> HandoverService:
    return cast("HandoverService", request.app.state.handover)


def _refused(error: HandoverRefused) -> JSONResponse:
    message = error.message if error.hint is None else f"{error.message} ({error.hint})"
    return fault(400, message)


def _ids(body: dict[str, Any], key: str) -> list[str]:
    values = body.get(key) or []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValueError(f"{key} must be a list of ids")
    return values


def router() -> APIRouter:
    routes = APIRouter(
        prefix="/api/v1/packhorse", tags=["cutover"], dependencies=[Depends(require("admin"))]
    )

    @routes.get("/intake")
    def get_intake(request: Request) -> dict[str, Any]:
        """The intake, each process's acknowledgement and what is still in flight."""
        service = _service(request)
        state = service.intake()
        in_flight = service.in_flight()
        return {
            **state.fields(),
            "acknowledgements": [ack.fields() for ack in service.acknowledgements()],
            "waiting_for": service.waiting_for(state.generation),
            "in_flight": {
                "running": list(in_flight.running),
                "parked": list(in_flight.parked),
                "pending_trigger_instances": in_flight.pending_instances,
            },
        }

    @routes.put(
        "/intake",
        response_model=None,
        openapi_extra=openapi.body(
            {"state": _STATES, "successor": _NULLABLE_STRING, "reason": _NULLABLE_STRING},
            required=["state"],
        ),
    )
    async def put_intake(request: Request) -> JSONResponse:
        """Open, drain or close the intake (every process acknowledges the change)."""
        body = await json_object(request)
        if isinstance(body, JSONResponse):
            return body
        try:
            status = IntakeStatus(str(body.get("state")))
        except ValueError:
            return fault(400, f"state must be one of {', '.join(s.value for s in IntakeStatus)}")
        successor, reason = body.get("successor"), body.get("reason")
        if not isinstance(successor, str | None) or not isinstance(reason, str | None):
            return fault(400, "successor and reason must be strings")
        state = await run_in_threadpool(
            _service(request).set_intake, status, successor=successor, reason=reason
        )
        return JSONResponse(state.fields())

    @routes.get(
        "/recipient-key",
        responses={
            200: {
                "description": "This instance's recipient key",
                "content": {"application/json": {"schema": _RECIPIENT}},
            }
        },
    )
    def get_recipient_key(request: Request) -> dict[str, str]:
        """This instance's X25519 recipient public key (created if missing): what a sender
        seals the secret parameters of a handover for."""
        return {"recipient": _service(request).recipient_key()}

    @routes.get("/handover", response_model=None)
    def get_handover(
        request: Request, limit: int = 1000, recipient: str | None = None
    ) -> dict[str, Any] | JSONResponse:
        """Held trigger instances and queued top-level executions, not handed over yet; secret
        parameters sealed for ``recipient`` (the receiver's ``phr1:`` key), which a parcel
        holding one requires."""
        try:
            parcel = _service(request).outgoing(limit=max(1, min(limit, 1000)), recipient=recipient)
        except HandoverRefused as error:
            return _refused(error)
        return parcel.fields()

    @routes.post("/handover", response_model=None, openapi_extra=openapi.body(_PARCEL))
    async def receive_handover(request: Request) -> JSONResponse:
        """Store what another instance hands over, under the same ids (idempotent)."""
        body = await json_object(request)
        if isinstance(body, JSONResponse):
            return body
        try:
            parcel = Parcel.from_fields(body)
        except (KeyError, ValueError, TypeError, AttributeError) as error:
            return fault(400, f"not a handover: {error!r}")
        try:
            moved = await run_in_threadpool(_service(request).receive, parcel)
        except HandoverRefused as error:
            return _refused(error)
        return JSONResponse(moved.fields())

    @routes.post(
        "/handover/done",
        response_model=None,
        openapi_extra=openapi.body(
            {
                "successor": openapi.STRING,
                "trigger_instances": openapi.STRINGS,
                "executions": openapi.STRINGS,
            },
            required=["successor"],
        ),
    )
    async def handover_done(request: Request) -> JSONResponse:
        """Mark what the successor stored as handed over to it."""
        body = await json_object(request)
        if isinstance(body, JSONResponse):
            return body
        successor = body.get("successor")
        if not isinstance(successor, str) or not successor:
            return fault(400, "successor (the URL of the instance that took them) is required")
        try:
            instances, executions = _ids(body, "trigger_instances"), _ids(body, "executions")
        except ValueError as error:
            return fault(400, str(error))
        moved = await run_in_threadpool(
            _service(request).hand_over, instances, executions, successor=successor
        )
        return JSONResponse(moved.fields())

    @routes.post("/handover/release")
    async def release_held(request: Request) -> dict[str, int]:
        """Process the held trigger instances here (a rollback reopened this instance)."""
        released = await run_in_threadpool(_service(request).release)
        return {"trigger_instances": released}

    return routes
