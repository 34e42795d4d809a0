"""StackStorm's action-chain workflows (runner type ``action-chain``), as a pure core.

* :func:`parse_chain` reads and checks a chain file into a :class:`ChainSpec`, every problem a
  diagnostic (PH004, PH010-PH012 and PH8xx, see ``docs/diagnostics.md``).
"""

from packhorse.workflow.actionchain.model import ChainSpec, NodeSpec
from packhorse.workflow.actionchain.parse import parse_chain

__all__ = ["ChainSpec", "NodeSpec", "parse_chain"]
