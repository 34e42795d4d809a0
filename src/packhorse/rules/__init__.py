"""Rule criteria operators, the matcher and enforcement rendering (pure).

Public surface:

* :class:`Matcher` (built from :class:`~packhorse.model.rules.Rule` objects or registered rule
  resources), its :meth:`~Matcher.match` giving a :class:`MatchResult` of matched rules and
  :class:`Miss` es with their :class:`Reason` (``packhorse.rules.matcher``,
  ``packhorse.rules.criteria``);
* :func:`action_context`, :func:`render_action_parameters` (giving
  :class:`ParametersRendered` or :class:`ParametersFailed`) and :func:`render_context`
  (``packhorse.rules.enforcement``);
* :data:`OPERATORS`, :data:`ALIASES`, :func:`get_operator`, :func:`canonical_name`
  (``packhorse.rules.operators``).

See docs/rules.md.
"""

from packhorse.model.rules import Rule, RuleType, TriggerInstance
from packhorse.rules.criteria import MissKind, Reason
from packhorse.rules.enforcement import (
    ParametersFailed,
    ParametersRendered,
    action_context,
    render_action_parameters,
    render_context,
)
from packhorse.rules.matcher import Matcher, MatchResult, Miss
from packhorse.rules.operators import ALIASES, OPERATORS, canonical_name, get_operator

__all__ = [
    "ALIASES",
    "OPERATORS",
    "MatchResult",
    "Matcher",
    "Miss",
    "MissKind",
    "ParametersFailed",
    "ParametersRendered",
    "Reason",
    "Rule",
    "RuleType",
    "TriggerInstance",
    "action_context",
    "canonical_name",
    "get_operator",
    "render_action_parameters",
    "render_context",
]
