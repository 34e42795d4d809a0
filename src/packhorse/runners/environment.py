"""The environment shell actions get on top of their base: StackStorm's rules, shared by the
local and the remote shell runners."""

from __future__ import annotations

import json

from packhorse.runners.base import RunRequest


def action_environment(request: RunRequest) -> dict[str, str]:
    """The ``env`` parameter, then the ``ST2_ACTION_*`` variables, then the engine's own.

    As in StackStorm the ``ST2_ACTION_*`` variables come after ``env``, so ``env`` cannot fake
    them. Values that are not strings are passed as JSON text.
    """
    env: dict[str, str] = {}
    for name, value in (request.runner_parameters.get("env") or {}).items():
        if value is not None:
            env[str(name)] = value if isinstance(value, str) else json.dumps(value)
    env["ST2_ACTION_PACK_NAME"] = request.pack
    env["ST2_ACTION_EXECUTION_ID"] = request.execution_id
    env["ST2_ACTION_DEBUG"] = str(bool(request.runner_parameters.get("debug", False)))
    if request.context.get("api_url"):
        env["ST2_ACTION_API_URL"] = str(request.context["api_url"])
    if request.context.get("auth_token"):
        env["ST2_ACTION_AUTH_TOKEN"] = str(request.context["auth_token"])
    env.update(request.env)
    return env
