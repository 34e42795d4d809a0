"""Turning a stored execution into a runner request: find the action and its pack, render
and cast the parameters, resolve the pack config, and set StackStorm's environment."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from packhorse.crypto.cipher import is_encrypted_token
from packhorse.errors import NotFound, PackhorseError
from packhorse.model.content import Kind, Resource
from packhorse.model.execution import Execution
from packhorse.model.runner_types import RUNNER_TYPES
from packhorse.runners.base import RunRequest
from packhorse.storage.ports import RegistryReader

API_URL_DEFAULT = "http://127.0.0.1:9101/api/v1"

Render = Callable[
    [Resource, Mapping[str, Any], Mapping[str, Any], Mapping[str, Any] | None],
    tuple[dict[str, Any], dict[str, Any]],
]
"""``render(action, live, context, config) -> (runner parameters, action parameters)``;
``config`` None means "resolve the pack's config yourself"."""


class Preparer:
    """Builds :class:`RunRequest` s; everything it needs is passed in."""

    def __init__(
        self,
        registry: RegistryReader,
        *,
        home: Path,
        decrypt: Callable[[str], str],
        render: Render,
        config_for: Callable[[str], Mapping[str, Any]],
        venv_for: Callable[[str], str],
        api_url: str = API_URL_DEFAULT,
        system_user: str = "",
    ) -> None:
        self._registry = registry
        self._home = home
        self._decrypt = decrypt
        self._render = render
        self._config_for = config_for
        self._venv_for = venv_for
        self._api_url = api_url
        self._system_user = system_user

    async def __call__(self, execution: Execution) -> RunRequest:
        return self.prepare(execution)

    def prepare(self, execution: Execution) -> RunRequest:
        action = self._registry.get_resource(Kind.ACTION, execution.action_ref)
        if action is None:
            raise NotFound("action", execution.action_ref)
        pack = self._registry.get_pack(action.pack)
        if pack is None:
            raise NotFound("pack", action.pack)
        pack_path = Path(pack.path)
        if not pack_path.is_absolute():
            pack_path = self._home / pack_path
        live = {
            name: self._decrypt(value) if is_encrypted_token(value) else value
            for name, value in execution.parameters.items()
        }
        runner_type = RUNNER_TYPES.get(str(action.body.get("runner_type")))
        if runner_type is None:
            raise PackhorseError(f"runner type {action.body.get('runner_type')!r} is unknown")
        config = self._config_for(action.pack)
        runner_parameters, action_parameters = self._render(action, live, execution.context, config)
        schema = {**runner_type.parameters, **(action.body.get("parameters") or {})}
        entry_point = str(action.body.get("entry_point") or "")
        timeout = runner_parameters.get("timeout")
        return RunRequest(
            execution_id=execution.id,
            action_ref=action.ref,
            pack=action.pack,
            runner_type=runner_type.name,
            pack_path=str(pack_path),
            entry_point=str(pack_path / "actions" / entry_point) if entry_point else "",
            runner_parameters=runner_parameters,
            action_parameters=action_parameters,
            parameter_schema=schema,
            config=config,
            context=dict(execution.context),
            env={
                "ST2_ACTION_PACK_NAME": action.pack,
                "ST2_ACTION_EXECUTION_ID": execution.id,
                "ST2_ACTION_API_URL": self._api_url,
                "ST2_ACTION_DEBUG": "1" if runner_parameters.get("debug") else "0",
            },
            timeout=float(timeout) if isinstance(timeout, int | float) and timeout > 0 else None,
            venv_path=self._venv_for(action.pack),
            system_user=self._system_user,
        )
