"""Shadow evaluation by a remote instance: ``POST /api/v1/packhorse/shadow`` (admin), the
counterpart of :class:`packhorse.engine.shadow.ShadowEvaluator` for ``upgrade verify``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from packhorse.client.http import ApiClient
from packhorse.errors import RemoteError
from packhorse.model.shadow import ShadowInput, ShadowOutcome

PATH = "/api/v1/packhorse/shadow"


class RemoteShadow:
    def __init__(self, api: ApiClient) -> None:
        self.api = api

    def evaluate(self, inputs: Sequence[ShadowInput], *, key: bytes) -> list[ShadowOutcome]:
        answer = self.api.post(
            PATH, {"key": key.hex(), "trigger_instances": [one.to_dict() for one in inputs]}
        )
        try:
            outcomes: list[Any] = answer["outcomes"]
            found = [ShadowOutcome.from_dict(outcome) for outcome in outcomes]
        except (KeyError, TypeError, ValueError) as error:
            raise RemoteError(
                f"{self.api.url} answered {PATH} with something this client does not "
                f"understand: {error!r}",
                status=None,
                url=self.api.url,
                hint="is it a Packhorse with 'upgrade verify' support (this version or newer)?",
            ) from error
        if len(found) != len(inputs):
            raise RemoteError(
                f"{self.api.url} answered {len(found)} outcomes for {len(inputs)} trigger "
                "instances",
                status=None,
                url=self.api.url,
            )
        return found
