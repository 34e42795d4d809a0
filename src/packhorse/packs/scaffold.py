"""``packhorse pack create NAME``: a new pack with one of each thing a pack usually holds, that
validates and whose test passes as created.

The files are the smallest useful example of each part: a python action that reads the pack
config, an Orquesta workflow that calls it, a rule that runs it from a webhook, a config schema
with a default and a secret, and a test of the action on StackStorm's test base class."""

from __future__ import annotations

import re
from pathlib import Path

from packhorse.errors import PackhorseError

NAME = re.compile(r"^[a-z0-9_]+$")


class ScaffoldError(PackhorseError):
    """The pack could not be created; nothing was written."""


def pack_files(name: str, *, author: str, email: str) -> dict[str, str]:
    """The files of a new pack ``name``, by relative path."""
    title = name.replace("_", " ")
    return {
        "pack.yaml": f"""---
ref: {name}
name: {name}
description: {title}, made with packhorse pack create.
version: 0.1.0
author: {author}
email: {email}
python_versions:
  - "3"
""",
        "README.md": f"""# {name}

Made with `packhorse pack create`. What is here:

- `actions/greet.yaml` + `greet.py`: a python action that reads the pack config.
- `actions/greet_twice.yaml` + `workflows/greet_twice.yaml`: an Orquesta workflow calling it.
- `rules/greet_from_webhook.yaml`: POST `{{"name": "Ada"}}` to `/api/v1/webhooks/{name}`.
- `config.schema.yaml`: the pack's settings (`packhorse pack config {name}`).
- `tests/test_action_greet.py`: run with `packhorse pack test {name}`.

Install it with `packhorse pack install ./{name}`.
""",
        "requirements.txt": "# Python libraries the actions need, one per line (pip format).\n",
        "config.schema.yaml": """---
greeting:
  type: string
  description: The word greetings start with.
  default: Hello
api_token:
  type: string
  description: An example secret; stored encrypted, never shown.
  secret: true
  required: false
""",
        "actions/greet.yaml": f"""---
name: greet
pack: {name}
runner_type: python-script
entry_point: greet.py
description: Greet someone with the configured greeting.
parameters:
  name:
    type: string
    description: Who to greet.
    required: true
""",
        "actions/greet.py": """from st2common.runners.base_action import Action


class GreetAction(Action):
    def run(self, name):
        greeting = self.config.get("greeting") or "Hello"
        self.logger.info("greeting %s", name)
        return {"text": f"{greeting}, {name}!"}
""",
        "actions/greet_twice.yaml": f"""---
name: greet_twice
pack: {name}
runner_type: orquesta
entry_point: workflows/greet_twice.yaml
description: Greet two people, one after the other, and return both greetings.
parameters:
  first:
    type: string
    required: true
  second:
    type: string
    required: true
""",
        "actions/workflows/greet_twice.yaml": f"""version: 1.0

input:
  - first
  - second

tasks:
  greet_first:
    action: {name}.greet name=<% ctx().first %>
    next:
      - when: <% succeeded() %>
        publish:
          - first_text: <% result().result.text %>
        do: greet_second
  greet_second:
    action: {name}.greet name=<% ctx().second %>
    next:
      - when: <% succeeded() %>
        publish:
          - second_text: <% result().result.text %>

output:
  - greetings:
      - <% ctx().first_text %>
      - <% ctx().second_text %>
""",
        "rules/greet_from_webhook.yaml": f"""---
name: greet_from_webhook
pack: {name}
description: 'POST {{"name": "Ada"}} to /api/v1/webhooks/{name} to greet Ada.'
enabled: true
trigger:
  type: core.st2.webhook
  parameters:
    url: {name}
criteria:
  trigger.body.name:
    type: exists
action:
  ref: {name}.greet
  parameters:
    name: "{{{{ trigger.body.name }}}}"
""",
        "tests/test_action_greet.py": """from greet import GreetAction
from st2tests.base import BaseActionTestCase


class GreetActionTestCase(BaseActionTestCase):
    action_cls = GreetAction

    def test_uses_the_configured_greeting(self):
        action = self.get_action_instance(config={"greeting": "Hi"})
        self.assertEqual(action.run(name="Ada"), {"text": "Hi, Ada!"})

    def test_defaults_to_hello(self):
        action = self.get_action_instance(config={})
        self.assertEqual(action.run(name="Grace"), {"text": "Hello, Grace!"})
""",
    }


def create_pack(parent: Path, name: str, *, author: str, email: str) -> Path:
    """Write pack ``name`` into ``parent/name``; its folder."""
    if not NAME.match(name):
        raise ScaffoldError(
            f"{name!r} is not a pack name: lower-case letters, digits and _ only",
            hint=f"for example: {_suggest(name)}",
        )
    folder = parent / name
    if folder.exists():
        raise ScaffoldError(f"{folder} exists already", hint="pick another name or folder (--dir)")
    files = pack_files(name, author=author, email=email)
    staging = parent / f".{name}.creating"
    try:
        for relative, text in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        staging.rename(folder)
    except OSError as error:
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
        raise ScaffoldError(f"cannot create {folder}: {error}") from None
    return folder


def _suggest(name: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_") or "my_pack"
