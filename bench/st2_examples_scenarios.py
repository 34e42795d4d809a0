"""StackStorm's example workflows put through what its integration tests do to them: answer
inquiries, pause and resume, cancel, re-run. Each scenario waits for the states the test waits
for, in the same order; the first one not reached is the difference reported."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from st2_examples_lab import Case, Lab, Run, expect

from packhorse.model.execution import Execution, Status


def scenario(
    workflow: str, name: str, expected: str, *, derived: bool = False
) -> Callable[[Run], Case]:
    def register(run: Run) -> Case:
        return Case(workflow, name, expected, run, derived)

    return register


S = Status


@scenario("orquesta-ask-basic", "answer", "paused, then succeeded")
async def ask_basic(lab: Lab) -> str:
    workflow = lab.start("orquesta-ask-basic")
    await lab.state(workflow, S.PAUSED)
    [ask] = await lab.task(workflow, "get_approval", S.PENDING)
    lab.respond(ask.id, {"approved": True})
    await lab.state(workflow, S.SUCCEEDED)
    return "paused, succeeded"


@scenario("orquesta-ask-consecutive", "answer twice", "paused twice, then succeeded")
async def ask_consecutive(lab: Lab) -> str:
    workflow = lab.start("orquesta-ask-consecutive")
    await lab.state(workflow, S.PAUSED)
    [first] = await lab.task(workflow, "get_approval", S.PENDING)
    lab.respond(first.id, {"approved": True})
    [second] = await lab.task(workflow, "get_confirmation", S.PENDING)
    await lab.state(workflow, S.PAUSED)
    lab.respond(second.id, {"approved": True})
    await lab.state(workflow, S.SUCCEEDED)
    return "paused, paused, succeeded"


@scenario("orquesta-ask-parallel", "answer both", "paused; each answer taken; succeeded")
async def ask_parallel(lab: Lab) -> str:
    workflow = lab.start("orquesta-ask-parallel")
    await lab.state(workflow, S.PAUSED)
    [jack] = await lab.task(workflow, "ask_jack", S.PENDING)
    lab.respond(jack.id, {"approved": True})
    await lab.task(workflow, "ask_jack", S.SUCCEEDED)
    await asyncio.sleep(1)
    [jill] = await lab.task(workflow, "ask_jill", S.PENDING)
    lab.respond(jill.id, {"approved": True})
    await lab.task(workflow, "ask_jill", S.SUCCEEDED)
    await lab.state(workflow, S.SUCCEEDED)
    return "paused, succeeded"


@scenario("orquesta-ask-nested", "answer inside the subworkflow", "paused, root succeeds")
async def ask_nested(lab: Lab) -> str:
    workflow = lab.start("orquesta-ask-nested")
    await lab.state(workflow, S.PAUSED)
    [sub] = await lab.task(workflow, "get_approval", S.PAUSED)
    [ask] = await lab.task(sub.id, "get_approval", S.PENDING)
    lab.respond(ask.id, {"approved": True})
    await lab.state(workflow, S.SUCCEEDED)
    return "paused, succeeded"


@scenario(
    "orquesta_ask_multiple_parameters",
    "answer with extra_output",
    "paused, then succeeded; echo_extra_message ran",
    derived=True,
)
async def ask_multiple(lab: Lab) -> str:
    workflow = lab.start("orquesta_ask_multiple_parameters")
    await lab.state(workflow, S.PAUSED)
    [ask] = await lab.task(workflow, "get_approval", S.PENDING)
    lab.respond(ask.id, {"approved": True, "department_id": 7, "extra_output": "hi"})
    await lab.state(workflow, S.SUCCEEDED)
    await lab.task(workflow, "echo_extra_message", S.SUCCEEDED)
    [finish] = await lab.task(workflow, "finish", S.SUCCEEDED)
    said = (finish.result or {}).get("stdout")
    expect(said == "Approved by department 7. Automation completed.", f"finish said {said!r}")
    return "paused, succeeded"


@scenario("orquesta-test-cancel", "cancel the workflow", "canceling, task1 succeeds, canceled")
async def cancel_workflow(lab: Lab) -> str:
    with lab.files(1) as [path]:
        workflow = lab.start("orquesta-test-cancel", tempfile=str(path), message="foobar")
        await lab.task(workflow, "task1", S.RUNNING)
        lab.cancel(workflow)
        await lab.state(workflow, S.CANCELING)
        await lab.still(workflow, S.CANCELING, seconds=1)
        path.unlink()
        await lab.state(workflow, S.CANCELED)
        await lab.task(workflow, "task1", S.SUCCEEDED)
        expect(not lab.tasks(workflow, "task2"), "task2 ran after the cancel")
    return "canceling, canceled"


@scenario("orquesta-test-cancel", "cancel the task", "task1 and the workflow canceled")
async def cancel_task(lab: Lab) -> str:
    with lab.files(1) as [path]:
        workflow = lab.start("orquesta-test-cancel", tempfile=str(path), message="foobar")
        [task1] = await lab.task(workflow, "task1", S.RUNNING)
        lab.cancel(task1.id)
        await lab.task(workflow, "task1", S.CANCELED)
        await lab.state(workflow, S.CANCELED)
    return "canceled"


@scenario(
    "orquesta-test-cancel-subworkflow", "cancel the parent", "both canceling, then both canceled"
)
async def cancel_down(lab: Lab) -> str:
    with lab.files(1) as [path]:
        workflow = lab.start(
            "orquesta-test-cancel-subworkflow", tempfile=str(path), message="foobar"
        )
        [sub] = await lab.task(workflow, "task1", S.RUNNING)
        lab.cancel(workflow)
        await lab.state(workflow, S.CANCELING)
        await lab.state(sub.id, S.CANCELING)
        await lab.still(sub.id, S.CANCELING, seconds=1)
        path.unlink()
        await lab.state(sub.id, S.CANCELED)
        await lab.state(workflow, S.CANCELED)
    return "canceling, canceled"


@scenario(
    "orquesta-test-cancel-subworkflow",
    "cancel the subworkflow",
    "the parent follows: canceling, canceled",
)
async def cancel_up(lab: Lab) -> str:
    with lab.files(1) as [path]:
        workflow = lab.start(
            "orquesta-test-cancel-subworkflow", tempfile=str(path), message="foobar"
        )
        [sub] = await lab.task(workflow, "task1", S.RUNNING)
        lab.cancel(sub.id)
        await lab.state(sub.id, S.CANCELING)
        await lab.state(workflow, S.CANCELING)
        await lab.still(sub.id, S.CANCELING, seconds=1)
        path.unlink()
        await lab.state(sub.id, S.CANCELED)
        await lab.state(workflow, S.CANCELED)
    return "canceling, canceled"


@scenario(
    "orquesta-test-cancel-subworkflows",
    "cancel one of two subworkflows",
    "parent and the other subworkflow follow",
)
async def cancel_up_and_across(lab: Lab) -> str:
    with lab.files(1) as [path]:
        workflow = lab.start("orquesta-test-cancel-subworkflows", file1=str(path), file2=str(path))
        [sub1] = await lab.task(workflow, "task1", S.RUNNING)
        [sub2] = await lab.task(workflow, "task2", S.RUNNING)
        lab.cancel(sub1.id)
        await lab.state(sub1.id, S.CANCELING)
        await lab.state(workflow, S.CANCELING)
        await lab.state(sub2.id, S.CANCELING)
        await lab.still(sub1.id, S.CANCELING, seconds=1)
        path.unlink()
        await lab.state(sub1.id, S.CANCELED)
        await lab.state(sub2.id, S.CANCELED)
        await lab.state(workflow, S.CANCELED)
    return "canceling, canceled"


@scenario("orquesta-delay", "cancel the workflow", "task1 delayed; both canceled")
async def delay_cancel_workflow(lab: Lab) -> str:
    workflow = lab.start("orquesta-delay", name="Thanos", delay=300)
    await lab.task(workflow, "task1", S.DELAYED)
    lab.cancel(workflow)
    await lab.state(workflow, S.CANCELED)
    await lab.task(workflow, "task1", S.CANCELED)
    return "canceled"


@scenario("orquesta-delay", "cancel the task", "task1 delayed; both canceled")
async def delay_cancel_task(lab: Lab) -> str:
    workflow = lab.start("orquesta-delay", name="Thanos", delay=300)
    [task1] = await lab.task(workflow, "task1", S.DELAYED)
    lab.cancel(task1.id)
    await lab.task(workflow, "task1", S.CANCELED)
    await lab.state(workflow, S.CANCELED)
    return "canceled"


@scenario("orquesta-test-pause", "pause, resume", "pausing, paused, succeeded")
async def pause_resume(lab: Lab) -> str:
    with lab.files(1) as [path]:
        workflow = lab.start("orquesta-test-pause", tempfile=str(path))
        await lab.task(workflow, "task1", S.RUNNING)
        lab.pause(workflow)
        await lab.state(workflow, S.PAUSING, S.PAUSED)
        path.unlink()
        await lab.state(workflow, S.PAUSED)
        lab.resume(workflow)
        await lab.state(workflow, S.SUCCEEDED)
    return "paused, succeeded"


@scenario("orquesta-test-pause-resume", "pause, resume", "pausing, paused, succeeded", derived=True)
async def pause_resume_other(lab: Lab) -> str:
    with lab.files(1) as [path]:
        workflow = lab.start("orquesta-test-pause-resume", tempfile=str(path), message="hi")
        await lab.task(workflow, "task1", S.RUNNING)
        lab.pause(workflow)
        await lab.state(workflow, S.PAUSING, S.PAUSED)
        path.unlink()
        await lab.state(workflow, S.PAUSED)
        lab.resume(workflow)
        await lab.state(workflow, S.SUCCEEDED)
        [task2] = await lab.task(workflow, "task2", S.SUCCEEDED)
        expect((task2.result or {}).get("stdout") == "hi", "task2 did not echo the message")
    return "paused, succeeded"


@scenario(
    "orquesta-test-pause-subworkflow",
    "pause the parent",
    "both pause; resuming the parent finishes both",
)
async def pause_down(lab: Lab) -> str:
    with lab.files(1) as [path]:
        workflow = lab.start("orquesta-test-pause-subworkflow", tempfile=str(path))
        await lab.state(workflow, S.RUNNING)
        [sub] = await lab.task(workflow, "task1", S.RUNNING)
        lab.pause(workflow)
        await lab.state(workflow, S.PAUSING, S.PAUSED)
        await lab.state(sub.id, S.PAUSING, S.PAUSED)
        path.unlink()
        await lab.state(sub.id, S.PAUSED)
        await lab.state(workflow, S.PAUSED)
        lab.resume(workflow)
        await lab.state(sub.id, S.SUCCEEDED)
        await lab.state(workflow, S.SUCCEEDED)
    return "paused, succeeded"


@scenario(
    "orquesta-test-pause-subworkflows",
    "pause the parent",
    "all pause; resuming the parent finishes all",
)
async def pause_down_two(lab: Lab) -> str:
    with lab.files(2) as [path1, path2]:
        workflow = lab.start("orquesta-test-pause-subworkflows", file1=str(path1), file2=str(path2))
        await lab.state(workflow, S.RUNNING)
        [sub1] = await lab.task(workflow, "task1", S.RUNNING)
        [sub2] = await lab.task(workflow, "task2", S.RUNNING)
        lab.pause(workflow)
        await lab.state(workflow, S.PAUSING, S.PAUSED)
        await lab.state(sub1.id, S.PAUSING, S.PAUSED)
        await lab.state(sub2.id, S.PAUSING, S.PAUSED)
        path1.unlink()
        await lab.state(sub1.id, S.PAUSED)
        await lab.state(sub2.id, S.PAUSING, S.PAUSED)
        await lab.state(workflow, S.PAUSING, S.PAUSED)
        path2.unlink()
        await lab.state(sub1.id, S.PAUSED)
        await lab.state(sub2.id, S.PAUSED)
        await lab.state(workflow, S.PAUSED)
        lab.resume(workflow)
        await lab.state(sub1.id, S.SUCCEEDED)
        await lab.state(sub2.id, S.SUCCEEDED)
        await lab.state(workflow, S.SUCCEEDED)
    return "paused, succeeded"


@scenario(
    "orquesta-test-pause-subworkflow",
    "pause the subworkflow",
    "parent runs on, pauses when idle; resuming the subworkflow finishes both",
)
async def pause_up(lab: Lab) -> str:
    with lab.files(1) as [path]:
        workflow = lab.start("orquesta-test-pause-subworkflow", tempfile=str(path))
        await lab.state(workflow, S.RUNNING)
        [sub] = await lab.task(workflow, "task1", S.RUNNING)
        lab.pause(sub.id)
        await lab.state(workflow, S.RUNNING)
        await lab.state(sub.id, S.PAUSING, S.PAUSED)
        path.unlink()
        await lab.state(sub.id, S.PAUSED)
        await lab.state(workflow, S.PAUSED)
        lab.resume(sub.id)
        await lab.state(sub.id, S.SUCCEEDED)
        await lab.state(workflow, S.SUCCEEDED)
    return "paused, succeeded"


async def _one_of_two_paused(lab: Lab) -> tuple[str, Execution, Execution, Path, Path]:
    """Start the two-subworkflow test, pause the first subworkflow, let it reach paused."""
    path1, path2 = (lab.scratch / f"pause-{time.monotonic_ns()}-{i}" for i in (1, 2))
    path1.touch()
    path2.touch()
    workflow = lab.start("orquesta-test-pause-subworkflows", file1=str(path1), file2=str(path2))
    await lab.state(workflow, S.RUNNING)
    [sub1] = await lab.task(workflow, "task1", S.RUNNING)
    [sub2] = await lab.task(workflow, "task2", S.RUNNING)
    lab.pause(sub1.id)
    await lab.state(workflow, S.RUNNING)
    await lab.state(sub1.id, S.PAUSING, S.PAUSED)
    await lab.state(sub2.id, S.RUNNING)
    path1.unlink()
    await lab.state(workflow, S.RUNNING)
    await lab.state(sub1.id, S.PAUSED)
    await lab.state(sub2.id, S.RUNNING)
    return workflow, sub1, sub2, path1, path2


@scenario(
    "orquesta-test-pause-subworkflows",
    "pause one subworkflow, resume it once the parent paused",
    "parent pauses when the other ends; all succeed",
)
async def pause_one_resume_when_paused(lab: Lab) -> str:
    workflow, sub1, sub2, _, path2 = await _one_of_two_paused(lab)
    path2.unlink()
    await lab.state(workflow, S.PAUSED)
    await lab.state(sub1.id, S.PAUSED)
    await lab.state(sub2.id, S.SUCCEEDED)
    lab.resume(sub1.id)
    await lab.state(sub1.id, S.SUCCEEDED)
    await lab.state(workflow, S.SUCCEEDED)
    return "paused, succeeded"


@scenario(
    "orquesta-test-pause-subworkflows",
    "pause one subworkflow, resume it while the parent runs",
    "parent keeps running; all succeed",
)
async def pause_one_resume_while_running(lab: Lab) -> str:
    workflow, sub1, sub2, _, path2 = await _one_of_two_paused(lab)
    lab.resume(sub1.id)
    await lab.state(workflow, S.RUNNING)
    await lab.state(sub1.id, S.SUCCEEDED)
    await lab.state(sub2.id, S.RUNNING)
    path2.unlink()
    await lab.state(sub2.id, S.SUCCEEDED)
    await lab.state(workflow, S.SUCCEEDED)
    return "running, succeeded"


async def _both_paused(lab: Lab) -> tuple[str, Execution, Execution]:
    with lab.files(2) as [path1, path2]:
        workflow = lab.start("orquesta-test-pause-subworkflows", file1=str(path1), file2=str(path2))
        await lab.state(workflow, S.RUNNING)
        [sub1] = await lab.task(workflow, "task1", S.RUNNING)
        [sub2] = await lab.task(workflow, "task2", S.RUNNING)
        lab.pause(sub1.id)
        await lab.state(workflow, S.RUNNING)
        await lab.state(sub1.id, S.PAUSING, S.PAUSED)
        await lab.state(sub2.id, S.RUNNING)
        lab.pause(sub2.id)
        await lab.state(workflow, S.RUNNING)
        await lab.state(sub1.id, S.PAUSING, S.PAUSED)
        await lab.state(sub2.id, S.PAUSING, S.PAUSED)
    await lab.state(sub1.id, S.PAUSED)
    await lab.state(sub2.id, S.PAUSED)
    await lab.state(workflow, S.PAUSED)
    return workflow, sub1, sub2


@scenario(
    "orquesta-test-pause-subworkflows",
    "pause both subworkflows, resume them",
    "parent pauses; resuming each finishes all",
)
async def pause_both_resume_each(lab: Lab) -> str:
    workflow, sub1, sub2 = await _both_paused(lab)
    lab.resume(sub1.id)
    await lab.state(sub1.id, S.SUCCEEDED)
    await lab.state(sub2.id, S.PAUSED)
    await lab.state(workflow, S.PAUSED)
    lab.resume(sub2.id)
    await lab.state(sub2.id, S.SUCCEEDED)
    await lab.state(workflow, S.SUCCEEDED)
    return "paused, succeeded"


@scenario(
    "orquesta-test-pause-subworkflows",
    "pause both subworkflows, resume the parent",
    "parent pauses; resuming it finishes all",
)
async def pause_both_resume_parent(lab: Lab) -> str:
    workflow, sub1, sub2 = await _both_paused(lab)
    lab.resume(workflow)
    await lab.state(sub1.id, S.SUCCEEDED)
    await lab.state(sub2.id, S.SUCCEEDED)
    await lab.state(workflow, S.SUCCEEDED)
    return "paused, succeeded"


@scenario(
    "orquesta-test-with-items",
    "concurrency 2 of 5",
    "2, then 4, then 5 items started; succeeded",
)
async def items_concurrency(lab: Lab) -> str:
    with lab.files(5) as paths:
        workflow = lab.start(
            "orquesta-test-with-items", tempfiles=[str(p) for p in paths], concurrency=2
        )
        await lab.state(workflow, S.RUNNING)
        await lab.task(workflow, "task1", count=2)
        paths[0].unlink()
        paths[1].unlink()
        await lab.task(workflow, "task1", count=4)
        paths[2].unlink()
        paths[3].unlink()
        await lab.task(workflow, "task1", count=5)
        paths[4].unlink()
        await lab.state(workflow, S.SUCCEEDED)
    return "2, 4, 5; succeeded"


async def _items_canceled(lab: Lab, items: int) -> str:
    with lab.files(items) as paths:
        workflow = lab.start(
            "orquesta-test-with-items", tempfiles=[str(p) for p in paths], concurrency=2
        )
        await lab.state(workflow, S.RUNNING)
        await lab.task(workflow, "task1", S.RUNNING, count=2)
        lab.cancel(workflow)
        await lab.state(workflow, S.CANCELING)
        await lab.still(workflow, S.CANCELING, seconds=1)
        for path in paths:
            path.unlink()
        await lab.task(workflow, "task1", S.SUCCEEDED, count=2)
        await lab.state(workflow, S.CANCELED)
    return "canceling; 2 items succeeded; canceled"


@scenario("orquesta-test-with-items", "cancel 2 of 2", "canceling; running items end; canceled")
async def items_cancel(lab: Lab) -> str:
    return await _items_canceled(lab, 2)


@scenario(
    "orquesta-test-with-items",
    "cancel 2 of 4 (concurrency 2)",
    "canceling; running items end, no more start; canceled",
)
async def items_concurrency_cancel(lab: Lab) -> str:
    return await _items_canceled(lab, 4)


@scenario(
    "orquesta-test-with-items", "pause, resume (2 items)", "pausing; items end; paused; succeeded"
)
async def items_pause(lab: Lab) -> str:
    with lab.files(2) as paths:
        workflow = lab.start("orquesta-test-with-items", tempfiles=[str(p) for p in paths])
        await lab.state(workflow, S.RUNNING)
        await lab.task(workflow, "task1", S.RUNNING, count=2)
        lab.pause(workflow)
        await lab.state(workflow, S.PAUSING)
        for path in paths:
            path.unlink()
        await lab.task(workflow, "task1", S.SUCCEEDED, count=2)
        await lab.state(workflow, S.PAUSED)
        lab.resume(workflow)
        await lab.state(workflow, S.SUCCEEDED)
    return "pausing, paused, succeeded"


@scenario(
    "orquesta-test-with-items",
    "pause, resume (4 items, concurrency 2)",
    "pausing; 2 items end; paused; the other 2 run on resume",
)
async def items_concurrency_pause(lab: Lab) -> str:
    with lab.files(4) as paths:
        workflow = lab.start(
            "orquesta-test-with-items", tempfiles=[str(p) for p in paths], concurrency=2
        )
        await lab.state(workflow, S.RUNNING)
        await lab.task(workflow, "task1", S.RUNNING, count=2)
        lab.pause(workflow)
        await lab.state(workflow, S.PAUSING)
        for path in paths[:2]:
            path.unlink()
        await lab.task(workflow, "task1", S.SUCCEEDED, count=2)
        await lab.state(workflow, S.PAUSED)
        lab.resume(workflow)
        for path in paths[2:]:
            path.unlink()
        await lab.task(workflow, "task1", S.SUCCEEDED, count=4)
        await lab.state(workflow, S.SUCCEEDED)
    return "pausing, paused, succeeded"


@scenario("orquesta-test-rerun", "re-run the workflow", "failed; the re-run succeeds")
async def rerun_workflow(lab: Lab) -> str:
    with lab.files(1, "1") as [path]:
        workflow = lab.start("orquesta-test-rerun", tempfile=str(path))
        await lab.state(workflow, S.FAILED)
        path.write_text("0")
        again = lab.rerun(workflow)
        await lab.state(again, S.SUCCEEDED)
        expect(
            [c.action_ref for c in lab.children(again)][:1] == ["core.noop"],
            "the re-run did not start over from task1",
        )
    return "failed; re-run succeeded"


@scenario("orquesta-test-rerun", "re-run task2", "failed; the re-run from task2 succeeds")
async def rerun_task(lab: Lab) -> str:
    with lab.files(1, "1") as [path]:
        workflow = lab.start("orquesta-test-rerun", tempfile=str(path))
        await lab.state(workflow, S.FAILED)
        path.write_text("0")
        again = lab.rerun(workflow, tasks=["task2"])
        await lab.state(again, S.SUCCEEDED)
        ran = sorted(c.context.get("orquesta", {}).get("task_name") for c in lab.children(again))
        expect(ran == ["task2", "task3"], f"the re-run ran {ran}")
    return "failed; re-run succeeded"


@scenario("orquesta-test-rerun", "re-run task2 of a success", "succeeded; the re-run succeeds")
async def rerun_succeeded(lab: Lab) -> str:
    with lab.files(1, "0") as [path]:
        workflow = lab.start("orquesta-test-rerun", tempfile=str(path))
        await lab.state(workflow, S.SUCCEEDED)
        again = lab.rerun(workflow, tasks=["task2"])
        await lab.state(again, S.SUCCEEDED)
    return "succeeded; re-run succeeded"


@scenario(
    "orquesta-test-rerun-with-items",
    "re-run task1, items reset",
    "failed; the re-run runs all 4 items and succeeds",
)
async def rerun_items_reset(lab: Lab) -> str:
    with lab.files(1, "1") as [path]:
        workflow = lab.start("orquesta-test-rerun-with-items", tempfile=str(path))
        await lab.state(workflow, S.FAILED)
        path.write_text("0")
        again = lab.rerun(workflow, tasks=["task1"])
        await lab.state(again, S.SUCCEEDED)
        children = lab.children(again)
        expect(len(children) == 4, f"{len(children)} children, not 4")
    return "failed; re-run of 4 items succeeded"


@scenario(
    "orquesta-test-rerun-with-items",
    "re-run task1 --no-reset",
    "failed; the re-run runs the 2 failed items and succeeds",
)
async def rerun_items_no_reset(lab: Lab) -> str:
    with lab.files(1, "1") as [path]:
        workflow = lab.start("orquesta-test-rerun-with-items", tempfile=str(path))
        await lab.state(workflow, S.FAILED)
        path.write_text("0")
        again = lab.rerun(workflow, tasks=["task1"], no_reset=["task1"])
        await lab.state(again, S.SUCCEEDED)
        children = lab.children(again)
        expect(len(children) == 2, f"{len(children)} children, not 2")
    return "failed; re-run of 2 items succeeded"


INTERACTIVE = [
    ask_basic,
    ask_consecutive,
    ask_parallel,
    ask_nested,
    ask_multiple,
    cancel_workflow,
    cancel_task,
    cancel_down,
    cancel_up,
    cancel_up_and_across,
    delay_cancel_workflow,
    delay_cancel_task,
    pause_resume,
    pause_resume_other,
    pause_down,
    pause_down_two,
    pause_up,
    pause_one_resume_when_paused,
    pause_one_resume_while_running,
    pause_both_resume_each,
    pause_both_resume_parent,
    items_concurrency,
    items_cancel,
    items_concurrency_cancel,
    items_pause,
    items_concurrency_pause,
    rerun_workflow,
    rerun_task,
    rerun_succeeded,
    rerun_items_reset,
    rerun_items_no_reset,
]
