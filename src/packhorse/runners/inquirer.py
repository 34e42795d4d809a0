"""The ``inquirer`` runner (``core.ask``): asks a question and waits for a person's answer.

Like StackStorm's, the run itself only records the question: it ends ``pending`` with the
result ``{schema, roles, users, route, ttl}``. The execution stays pending (no worker holds it)
until ``packhorse inquiry respond`` checks an answer against ``schema`` and completes it; a
parent workflow pauses meanwhile and resumes with the answer.
"""

from __future__ import annotations

from packhorse.runners.base import RunEvents, RunnerResult, RunRequest, RunStatus

QUESTION_KEYS = ("schema", "roles", "users", "route", "ttl")


class InquirerRunner:
    name = "inquirer"

    async def run(self, request: RunRequest, events: RunEvents) -> RunnerResult:
        values = request.runner_parameters
        return RunnerResult(
            status=RunStatus.PENDING,
            result={key: values.get(key) for key in QUESTION_KEYS},
        )
