"""The intake and handover of a remote instance (``/api/v1/packhorse/...``, admin only), with
the same answers as :class:`packhorse.engine.intake.HandoverService` gives locally."""

from __future__ import annotations

from typing import Any

from packhorse.client.http import ApiClient
from packhorse.model.intake import IntakeState, IntakeStatus, IntakeView, Moved, Parcel

PATH = "/api/v1/packhorse"


def intake_view(document: Any) -> IntakeView:
    """``GET /api/v1/packhorse/intake`` as a cutover reads it."""
    in_flight = document.get("in_flight") or {}
    return IntakeView(
        IntakeState.from_fields(document),
        tuple(document.get("waiting_for") or ()),
        tuple(in_flight.get("running") or ()),
        tuple(in_flight.get("parked") or ()),
        int(in_flight.get("pending_trigger_instances") or 0),
    )


class RemoteHandover:
    def __init__(self, api: ApiClient) -> None:
        self.api = api

    def view(self) -> IntakeView:
        return intake_view(self.api.get(f"{PATH}/intake"))

    def set_intake(
        self, status: IntakeStatus, *, successor: str | None, reason: str | None
    ) -> IntakeState:
        body = {"state": status.value, "successor": successor, "reason": reason}
        return IntakeState.from_fields(self.api.put(f"{PATH}/intake", body))

    def recipient_key(self) -> str | None:
        """The instance's recipient public key (``phr1:...``) that secrets are sealed for;
        None from a version without the route (404): it cannot take sealed secrets, and a
        sender then refuses a parcel holding one rather than send it otherwise."""
        answer = self.api.get_or_none(f"{PATH}/recipient-key")
        return None if answer is None else str(answer["recipient"])

    def outgoing(self, *, recipient: str | None = None) -> Parcel:
        """Secret parameters come sealed for ``recipient``."""
        params = {} if recipient is None else {"recipient": recipient}
        return Parcel.from_fields(self.api.get(f"{PATH}/handover", **params))

    def receive(self, parcel: Parcel) -> Moved:
        return Moved.from_fields(self.api.post(f"{PATH}/handover", parcel.fields()))

    def release(self) -> int:
        return int(self.api.post(f"{PATH}/handover/release", {})["trigger_instances"])

    def hand_over(
        self, instance_ids: list[str], execution_ids: list[str], *, successor: str
    ) -> Moved:
        body = {
            "successor": successor,
            "trigger_instances": instance_ids,
            "executions": execution_ids,
        }
        return Moved.from_fields(self.api.post(f"{PATH}/handover/done", body))
