"""StackStorm's action-chain workflows (runner type ``action-chain``), as a pure core.

* :func:`parse_chain` reads and checks a chain file into a :class:`ChainSpec`, every problem a
  diagnostic (PH004, PH010-PH012 and PH8xx, see ``docs/diagnostics.md``);
* :func:`start`, :func:`on_result`, :func:`start_failed`, :func:`action_missing`,
  :func:`pause`, :func:`resume` and :func:`cancel` step one chain execution: each takes a
  :class:`ChainState` and returns the next one with what the host must do
  (:class:`RunNode`) or how the chain stands (:class:`ChainPaused`, :class:`ChainFinished`).

The state is plain data (``ChainState.to_json()``/``from_json()``); time comes in as ``now``
strings, and the datastore as host ``functions``. ``docs/workflows.md`` ("Action chains")
describes the behaviour; ``docs/compatibility.md`` where it differs from StackStorm.
"""

from packhorse.workflow.actionchain.model import ChainSpec, NodeSpec
from packhorse.workflow.actionchain.parse import parse_chain
from packhorse.workflow.actionchain.state import ChainState, ChainStatus
from packhorse.workflow.actionchain.stepper import (
    ChainFinished,
    ChainPaused,
    NodeStatus,
    RunNode,
    Step,
    action_missing,
    cancel,
    on_result,
    pause,
    resume,
    start,
    start_failed,
)

__all__ = [
    "ChainFinished",
    "ChainPaused",
    "ChainSpec",
    "ChainState",
    "ChainStatus",
    "NodeSpec",
    "NodeStatus",
    "RunNode",
    "Step",
    "action_missing",
    "cancel",
    "on_result",
    "parse_chain",
    "pause",
    "resume",
    "start",
    "start_failed",
]
