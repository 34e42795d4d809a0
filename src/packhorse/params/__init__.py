"""Parameter schemas, default rendering, casting and secret masking (pure).

Public surface:

* :func:`effective_schema`, :func:`schema_for_action`, :func:`runner_parameters`,
  :func:`runner_parameter_names`, :func:`positional_parameters`, :func:`named_parameters`
  (``packhorse.params.schema``);
* :func:`render_parameters` with :class:`RenderContext` and :class:`RenderedParameters`
  (``packhorse.params.render``), and :func:`cast_value` (``packhorse.params.casting``);
* :func:`script_command`, :class:`ScriptCommand`, :func:`wrap_command`
  (``packhorse.params.shell``);
* :data:`MASK`, :func:`mask_by_schema`, :func:`mask_parameters`, :class:`Redactor`
  (``packhorse.params.masking``).

Failures raise :class:`packhorse.errors.ParameterError`.
"""

from packhorse.errors import ParameterError
from packhorse.params.casting import cast_value
from packhorse.params.masking import MASK, Redactor, mask_by_schema, mask_parameters
from packhorse.params.render import RenderContext, RenderedParameters, render_parameters
from packhorse.params.schema import (
    effective_schema,
    named_parameters,
    positional_parameters,
    runner_parameter_names,
    runner_parameters,
    schema_for_action,
)
from packhorse.params.shell import ScriptCommand, script_command, wrap_command

__all__ = [
    "MASK",
    "ParameterError",
    "Redactor",
    "RenderContext",
    "RenderedParameters",
    "ScriptCommand",
    "cast_value",
    "effective_schema",
    "mask_by_schema",
    "mask_parameters",
    "named_parameters",
    "positional_parameters",
    "render_parameters",
    "runner_parameter_names",
    "runner_parameters",
    "schema_for_action",
    "script_command",
    "wrap_command",
]
