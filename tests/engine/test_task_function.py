"""StackStorm's ``task()`` workflow function over the child executions of a workflow: which
run answers, the record's shape, routes, with-items, reruns and the not-found error."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from packhorse.engine import workflows
from packhorse.engine.task_function import task_function
from packhorse.expr.functions.workflow import ExpressionEvaluationException, scope_bound
from packhorse.model.execution import Execution, Status


class Scope:
    """The evaluation in progress, as the conductor describes it (statuses by task and route;
    ``fallback`` maps a route to the route before its split)."""

    def __init__(
        self,
        statuses: Mapping[tuple[str, int], str],
        *,
        task: tuple[str, int] | None = None,
        fallback: Mapping[int, int] | None = None,
        st2_id: str = "wf",
    ) -> None:
        self._statuses = dict(statuses)
        self._task = task
        self._fallback = dict(fallback or {})
        self._st2_id = st2_id

    def variables(self) -> Mapping[str, Any]:
        return {"st2": {"workflow_execution_id": self._st2_id}}

    def has_private(self, name: str) -> bool:
        return False

    def current_task(self) -> tuple[str, int] | None:
        return self._task

    def result(self) -> Any:
        return None

    def task_route(self, task_id: str, route: int) -> int | None:
        while (task_id, route) not in self._statuses:
            if route not in self._fallback:
                return None
            route = self._fallback[route]
        return route

    def task_status(self, task_id: str, route: int) -> str | None:
        found = self.task_route(task_id, route)
        return None if found is None else self._statuses[(task_id, found)]

    def item(self) -> Any:
        return None


def child(
    execution_id: str,
    task: str,
    *,
    route: int = 0,
    item: int | None = None,
    status: Status = Status.SUCCEEDED,
    result: Any = None,
    parent: str = "wf",
    created: str = "2024-05-01T10:00:00.000001Z",
    ended: str | None = "2024-05-01T10:00:02.500000Z",
) -> Execution:
    key: dict[str, Any] = {"task_id": task, "route": route}
    if item is not None:
        key["item"] = item
    return Execution(
        id=execution_id,
        action_ref="core.echo",
        runner_type="local-shell-cmd",
        status=status,
        parameters={},
        context={"workflow_key": key},
        created_at=created,
        result=result,
        end_timestamp=ended,
        parent_id=parent,
    )


class Store:
    def __init__(self, children: Sequence[Execution], executions: Sequence[Execution] = ()):
        self._children = list(children)
        self._executions = {e.id: e for e in executions}

    def children(self, workflow_id: str) -> list[Execution]:
        return [c for c in self._children if c.parent_id == workflow_id]

    def lookup(self, execution_id: str) -> Execution | None:
        return self._executions.get(execution_id)


def call(store: Store, scope: Scope, *args: Any, **kwargs: Any) -> Any:
    task = task_function(store.children, store.lookup)
    with scope_bound(scope):
        return task(*args, **kwargs)


def test_the_record_of_a_task_has_stackstorms_keys_and_formats() -> None:
    store = Store([child("c1", "greet", result={"stdout": "hello"})])
    record = call(store, Scope({("greet", 0): "succeeded"}), "greet")
    assert record == {
        "task_execution_id": "c1",
        "workflow_execution_id": "wf",
        "task_name": "greet",
        "task_id": "greet",
        "route": 0,
        "result": {"stdout": "hello"},
        "status": "succeeded",
        "start_timestamp": "2024-05-01 10:00:00.000001+00:00",
        "end_timestamp": "2024-05-01 10:00:02.500000+00:00",
    }


def test_without_arguments_it_is_the_current_task_on_the_current_route() -> None:
    store = Store(
        [
            child("a0", "work", route=0, result="route zero"),
            child("a1", "work", route=1, result="route one"),
        ]
    )
    scope = Scope({("work", 0): "succeeded", ("work", 1): "failed"}, task=("work", 1))
    record = call(store, scope)
    assert (record["task_execution_id"], record["route"], record["status"]) == ("a1", 1, "failed")
    assert record["result"] == "route one"


def test_a_task_not_on_the_route_is_found_on_the_route_before_the_split() -> None:
    store = Store([child("b", "before", route=0, result=1)])
    scope = Scope(
        {("before", 0): "succeeded", ("after", 2): "running"}, task=("after", 2), fallback={2: 0}
    )
    record = call(store, scope, "before")
    assert (record["task_execution_id"], record["route"]) == ("b", 0)


def test_the_latest_run_answers_and_an_unfinished_one_has_no_end() -> None:
    store = Store(
        [
            child("r1", "loop", result="first", created="2024-05-01T10:00:00.000001Z"),
            child(
                "r2",
                "loop",
                status=Status.RUNNING,
                created="2024-05-01T10:00:05.000001Z",
                ended=None,
            ),
        ]
    )
    record = call(store, Scope({("loop", 0): "running"}), "loop")
    assert record["task_execution_id"] == "r2" and record["result"] is None
    assert record["end_timestamp"] == "None"


def test_a_with_items_task_lists_each_item_as_stackstorm_records_it() -> None:
    store = Store(
        [
            child("i0", "each", item=0, result={"stdout": "a"}),
            child("i2", "each", item=2, status=Status.FAILED, result={"stdout": "c"}),
            child("i1", "each", item=1, status=Status.RUNNING, ended=None),
        ]
    )
    record = call(store, Scope({("each", 0): "running"}), "each")
    assert record["result"] == {
        "items": [
            {"status": "succeeded", "result": {"stdout": "a"}},
            None,
            {"status": "failed", "result": {"stdout": "c"}},
        ]
    }
    assert record["task_execution_id"] is None and record["end_timestamp"] == "None"


def test_a_task_without_an_action_has_a_record_without_a_result() -> None:
    record = call(Store([]), Scope({("noop_task", 0): "succeeded"}), "noop_task")
    assert (record["status"], record["result"], record["task_execution_id"]) == (
        "succeeded",
        None,
        None,
    )


def test_a_task_that_never_ran_is_an_evaluation_error() -> None:
    with pytest.raises(ExpressionEvaluationException) as caught:
        call(Store([]), Scope({("greet", 0): "succeeded"}), "task0")
    assert str(caught.value) == 'Unable to find task execution for "task0".'


def test_after_a_rerun_the_original_runs_count_and_the_new_ones_win() -> None:
    original = child("old", "step", parent="wf", result="old")
    kept = child("kept", "first", parent="wf", result="kept")
    again = child("new", "step", parent="rerun", result="new")
    rerun = Execution(
        id="rerun",
        action_ref="x.y",
        runner_type="orquesta",
        status=Status.RUNNING,
        parameters={},
        context={"re-run": {"ref": "wf"}},
        created_at="2024-05-01T11:00:00.000000Z",
    )
    store = Store([original, kept, again], [rerun])
    scope = Scope({("step", 0): "succeeded", ("first", 0): "succeeded"})
    with workflows.stepping_bound("rerun"):
        assert call(store, scope, "step")["task_execution_id"] == "new"
        assert call(store, scope, "first")["task_execution_id"] == "kept"


# -- st2kv, the other StackStorm function the engine adds --------------------------------------


def st2kv(pairs: Mapping[tuple[str, str, str], tuple[str, bool]]) -> Any:
    from packhorse.engine.drivers import st2kv_function
    from packhorse.model.datastore import Scope as KeyScope

    def read(scope: KeyScope, user: str, name: str) -> tuple[str, bool] | None:
        return pairs.get((scope.value, user, name))

    return st2kv_function(read, lambda token: token.removeprefix("sealed:"), "ann")


def test_st2kv_reads_the_system_scope_and_the_users_and_decrypts_on_request() -> None:
    lookup = st2kv(
        {
            ("system", "", "word"): ("sesame", False),
            ("user", "ann", "mine"): ("ann's", False),
            ("system", "", "secret"): ("sealed:eggplant", True),
        }
    )
    assert lookup("system.word") == "sesame"
    assert lookup("mine") == "ann's"
    assert lookup("system.secret") == "sealed:eggplant"
    assert lookup("system.secret", decrypt=True) == "eggplant"


def test_st2kv_names_a_missing_key_as_stackstorm_stores_it() -> None:
    lookup = st2kv({})
    with pytest.raises(Exception, match='The key "matt" does not exist in the StackStorm'):
        lookup("system.matt")
    with pytest.raises(Exception, match='The key "ann:matt" does not exist'):
        lookup("matt")
    assert lookup("system.matt", default=None) is None
