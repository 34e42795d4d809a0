"""The catalogue of diagnostic codes: each code's severity and one-line title.

Codes are stable: a code is never reused for another problem. Families:

    PH0xx   files and YAML; structure shared by every kind (missing, unknown, mistyped fields)
    PH1xx   pack.yaml
    PH2xx   actions and the parameter schema dialect (shared with config.schema.yaml)
    PH3xx   rules, trigger types and references between resources
    PH4xx   sensors
    PH5xx   aliases and policies
    PH6xx   config.schema.yaml (PH60x) and pack config values, configs/<ref>.yaml (PH61x)
    PH7xx   Orquesta workflow definitions (the entry points of orquesta actions)
    PH8xx   action-chain definitions (the entry points of action-chain actions)

``docs/diagnostics.md`` lists every code with an example and the fix; a test keeps the two in
step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from packhorse.model.diagnostics import Severity

E = Severity.ERROR
W = Severity.WARNING


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    severity: Severity
    title: str


_TABLE: tuple[tuple[str, Severity, str], ...] = (
    ("PH001", E, "file is not UTF-8 text"),
    ("PH002", E, "invalid YAML"),
    ("PH003", W, "duplicate key in a YAML mapping"),
    ("PH004", E, "document is not a mapping"),
    ("PH005", E, "two files define the same resource"),
    ("PH006", E, "two packs in the batch have the same ref"),
    ("PH007", W, "pack folder shadowed by an earlier search path"),
    ("PH010", E, "required field missing"),
    ("PH011", E, "unknown field"),
    ("PH012", E, "field has the wrong type"),
    ("PH013", E, "pack field differs from the pack ref"),
    ("PH100", E, "pack.yaml missing"),
    ("PH101", E, "version is not strict semver"),
    ("PH102", E, "pack ref cannot be resolved"),
    ("PH103", E, "invalid pack ref"),
    ("PH104", E, "reserved pack ref"),
    ("PH105", E, "invalid stackstorm_version"),
    ("PH106", E, "invalid python_versions"),
    ("PH107", E, "invalid email"),
    ("PH108", W, "in-pack config.yaml is not supported"),
    ("PH109", W, "pack folder name differs from the pack ref"),
    ("PH110", E, "pack supports Python 2 only"),
    ("PH111", E, "invalid dependency"),
    ("PH201", E, "unknown runner type"),
    ("PH202", W, "runner type not implemented yet"),
    ("PH203", E, "entry_point required"),
    ("PH204", W, "entry_point ignored by the runner"),
    ("PH205", E, "entry_point file not found"),
    ("PH206", E, "entry_point outside the pack"),
    ("PH207", E, "workflow definition is not a YAML mapping"),
    ("PH208", E, "invalid parameter name"),
    ("PH209", E, "unknown keyword in a parameter schema"),
    ("PH210", E, "invalid parameter type"),
    ("PH211", E, "format not allowed at the top of a parameter"),
    ("PH212", E, "required, secret or immutable is not a boolean"),
    ("PH213", E, "invalid position"),
    ("PH214", E, "positions not unique and contiguous"),
    ("PH215", E, "immutable parameter without a default"),
    ("PH216", E, "runner parameter override changes a fixed attribute"),
    ("PH217", E, "runner parameter already immutable"),
    ("PH218", E, "invalid parameter schema"),
    ("PH221", W, "invalid output_schema"),
    ("PH301", E, "criterion is not a mapping"),
    ("PH302", E, "unknown criteria operator"),
    ("PH303", W, "criterion without an operator"),
    ("PH304", E, "invalid search condition"),
    ("PH305", E, "invalid search pattern"),
    ("PH306", W, "pack of a trigger type is unknown"),
    ("PH307", E, "trigger type not found"),
    ("PH308", E, "trigger parameters do not match the trigger type"),
    ("PH309", W, "pack of an action is unknown"),
    ("PH310", E, "action not found"),
    ("PH311", E, "malformed reference"),
    ("PH312", E, "unknown rule type"),
    ("PH313", E, "invalid JSON schema in a trigger type"),
    ("PH314", E, "invalid timer parameters"),
    ("PH401", E, "sensor entry_point file not found"),
    ("PH402", E, "sensor entry_point outside the pack"),
    ("PH403", E, "invalid poll_interval"),
    ("PH404", E, "invalid trigger_types entry"),
    ("PH405", W, "sensor without entry_point"),
    ("PH501", E, "invalid alias format"),
    ("PH502", E, "invalid alias ack or result"),
    ("PH503", W, "alias format is not a regular expression"),
    ("PH510", E, "unknown policy type"),
    ("PH511", E, "invalid policy parameter"),
    ("PH601", E, "config schema is empty"),
    ("PH602", E, "invalid config schema key"),
    ("PH610", E, "config file unreadable or not a mapping"),
    ("PH611", E, "config value has the wrong type"),
    ("PH612", E, "config value not among the allowed values"),
    ("PH613", E, "required config key missing"),
    ("PH614", E, "unknown config key"),
    ("PH615", E, "config value breaks a schema constraint"),
    ("PH616", W, "secret config value in clear text"),
    ("PH617", E, "decrypt_kv on a secret config value"),
    ("PH618", E, "invalid template in a config value"),
    ("PH619", W, "pack needs a config file"),
    ("PH700", W, "workflow version missing"),
    ("PH701", E, "unsupported workflow version"),
    ("PH702", E, "workflow has no tasks"),
    ("PH703", E, "unknown key in a workflow"),
    ("PH704", E, "workflow field has the wrong type"),
    ("PH705", E, "invalid task name"),
    ("PH706", E, "reserved task name"),
    ("PH707", E, "transition to an undefined task"),
    ("PH708", E, "variable referenced before assignment"),
    ("PH709", E, "YAQL and Jinja mixed in one string"),
    ("PH710", E, "Jinja syntax error"),
    ("PH711", E, "YAQL syntax error"),
    ("PH712", E, "join task without enough inbound tasks"),
    ("PH713", E, "with-items task without an action"),
    ("PH715", E, "private variable referenced"),
    ("PH716", E, "no task to start the workflow"),
    ("PH717", E, "name declared twice"),
    ("PH718", E, "duplicate key in a workflow"),
    ("PH800", E, "action chain has no nodes"),
    ("PH801", W, "unknown field on a node StackStorm does not check"),
    ("PH802", E, "params and parameters both given"),
    ("PH803", E, "transition to an undefined node"),
    ("PH804", W, "node name used twice"),
    ("PH805", E, "Jinja syntax error in an action chain"),
    ("PH806", W, "node name or ref is a template"),
    ("PH807", W, "ref is not a pack.action reference"),
)

CODES: Mapping[str, Code] = MappingProxyType(
    {code: Code(code, severity, title) for code, severity, title in _TABLE}
)


def severity_of(code: str) -> Severity:
    return CODES[code].severity
