"""Environments of the processes Packhorse starts for packs.

:func:`pack_interpreter` and :func:`pack_environment` give a pack process (a python-script
action, its warm host, a sensor) its interpreter and base environment; :func:`action_environment`
is what shell actions get on top of their base (StackStorm's rules, shared by the local and the
remote shell runners)."""

from __future__ import annotations

import json
import os
import sys

from packhorse.compat import SITE_DIR
from packhorse.runners.base import RunRequest

PRIVATE_ENV_PREFIXES = ("PACKHORSE_",)
"""Engine settings that must not leak into pack code."""


def pack_interpreter(venv_path: str) -> str:
    """The Python of a pack's virtualenv; Packhorse's own when the pack has none (``""``)."""
    return os.path.join(venv_path, "bin", "python") if venv_path else sys.executable


def pack_environment(venv_path: str) -> dict[str, str]:
    """The base environment of a pack's Python process: Packhorse's own minus its private
    settings, the virtualenv's ``bin`` first on ``PATH`` and the pack site folder (the shims
    and ``_packhorse_pack``) as ``PYTHONPATH``; the wrapper in the process arranges the rest
    of ``sys.path``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(PRIVATE_ENV_PREFIXES) and key != "PYTHONPATH"
    }
    env["PATH"] = _search_path(venv_path, env.get("PATH", ""))
    env["PYTHONPATH"] = SITE_DIR
    return env


def _search_path(venv_path: str, path: str) -> str:
    if not venv_path:
        return path
    bin_dir = os.path.join(venv_path, "bin")
    return os.pathsep.join([bin_dir, path]) if path else bin_dir


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
