"""Shadow evaluation: what this instance's rules would do with a trigger instance, without
doing it (``packhorse upgrade verify``).

The same code as the real path, minus the writes: the trigger index and the matcher the rules
engine builds (:func:`~packhorse.engine.events.trigger_index`,
:meth:`~packhorse.rules.Matcher.match`, :meth:`RuleEngine.occurrence
<packhorse.engine.rule_engine.RuleEngine.occurrence>`), the action context of an enforcement
(:func:`~packhorse.rules.action_context`) and the parameter renderer the worker uses
(:func:`packhorse.bootstrap.parameter_renderer`: the action's schema and defaults, the
instance's datastore and the pack's resolved config). No execution, enforcement or trigger
instance is created and no action runs.

``timediff`` criteria compare with the trigger instance's occurrence time, not now, so that a
replay matches as the first processing did. Secrets are fingerprinted before they leave:
parameters the action's schema marks ``secret: true``, and any value that contains a secret
this evaluator decrypted (a ``decrypt_kv`` in a template, a secret of the pack's config).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

from packhorse import bootstrap
from packhorse.engine.cache import ActionSchemas
from packhorse.engine.clock import ISO, utc_now
from packhorse.engine.datastore import DatastoreService
from packhorse.engine.events import trigger_index
from packhorse.engine.keyring import Keyring
from packhorse.engine.preparation import Render
from packhorse.engine.rule_engine import RuleEngine
from packhorse.errors import PackhorseError
from packhorse.model.content import Kind
from packhorse.model.events import TriggerInstance
from packhorse.model.rules import Rule
from packhorse.model.shadow import ShadowInput, ShadowMatch, ShadowOutcome, fingerprint
from packhorse.params.masking import Redactor
from packhorse.rules import Matcher, action_context
from packhorse.settings import Settings
from packhorse.storage.datastore import SqlDatastore
from packhorse.storage.ports import RegistryReader

__all__ = ["ShadowEvaluator", "shadow_evaluator"]


class ShadowEvaluator:
    """The rules of one instance as registered when it was built, evaluated read-only."""

    def __init__(
        self,
        registry: RegistryReader,
        datastore: DatastoreService,
        render: Render,
        *,
        redactor: Redactor,
        schemas: ActionSchemas,
        system_user: str,
    ) -> None:
        """``datastore`` must feed ``redactor`` with what it decrypts (its ``redactor=``)."""
        self._registry = registry
        self._datastore = datastore
        self._render = render
        self._redactor = redactor
        self._schemas = schemas
        self._system_user = system_user
        self._index = trigger_index(registry)
        self._matcher = Matcher.from_resources(registry.list_resources(Kind.RULE))

    def evaluate(self, inputs: Iterable[ShadowInput], *, key: bytes) -> list[ShadowOutcome]:
        """The outcome of each input, in order; secrets fingerprinted with ``key``."""
        return [self.evaluate_one(one, key=key) for one in inputs]

    def evaluate_one(self, one: ShadowInput, *, key: bytes) -> ShadowOutcome:
        instance = TriggerInstance(
            id=one.id,
            trigger=one.trigger,
            trigger_type=one.trigger_type,
            payload=one.payload,
            occurrence_time=one.occurrence_time,
        )
        result = self._matcher.match(
            RuleEngine.occurrence(instance, self._index),
            _moment(one.occurrence_time),
            self._datastore.lookup,
            decrypt=self._datastore.decrypt,
        )
        return ShadowOutcome(
            trigger_instance=one.id,
            matches=tuple(self._request(rule, instance, key) for rule in result.matched),
        )

    def _request(self, rule: Rule, instance: TriggerInstance, key: bytes) -> ShadowMatch:
        """What :meth:`RuleEngine.enforce` and the worker would do, short of writing."""
        occurrence = RuleEngine.occurrence(instance, self._index)
        context: dict[str, Any] = action_context(rule, occurrence, user=self._system_user)
        context["trigger_instance"] = {
            **context["trigger_instance"],
            "trigger": instance.trigger,
            "payload": instance.payload,
        }
        action = self._registry.get_resource(Kind.ACTION, rule.action_ref)
        if action is None:
            return ShadowMatch(rule.ref, rule.action_ref, None, "action is not registered")
        if not action.enabled:
            return ShadowMatch(rule.ref, rule.action_ref, None, "action is disabled")
        full_context = {"user": self._system_user, "pack": action.pack, **context}
        try:
            runner, parameters = self._render(
                action, dict(rule.action_parameters), full_context, None
            )
        except PackhorseError as error:
            message = self._redactor.redact_text(error.message)
            return ShadowMatch(rule.ref, rule.action_ref, None, message)
        schema, _ = self._schemas(action)
        rendered = _json_safe({**runner, **parameters})
        protected = {
            name: self._protect(value, schema.get(name), key)
            for name, value in sorted(rendered.items())
        }
        return ShadowMatch(rule.ref, rule.action_ref, protected)

    def _protect(self, value: Any, spec: Any, key: bytes) -> Any:
        """``value`` with secrets fingerprinted: all of it when its schema says secret, else
        every string holding a secret this process decrypted (and below, by schema)."""
        if isinstance(spec, Mapping) and spec.get("secret") and value is not None:
            return fingerprint(key, value)
        if isinstance(value, str):
            return fingerprint(key, value) if value in self._redactor else value
        properties = spec.get("properties") if isinstance(spec, Mapping) else None
        if isinstance(value, dict):
            return {
                name: self._protect(
                    item, properties.get(name) if isinstance(properties, Mapping) else None, key
                )
                for name, item in value.items()
            }
        if isinstance(value, list):
            return [self._protect(item, None, key) for item in value]
        return value


def shadow_evaluator(settings: Settings) -> ShadowEvaluator:
    """An evaluator over an instance's registry, datastore and pack configs as they are now,
    with a redactor of its own (it learns the secrets this evaluation decrypts)."""
    redactor = Redactor()
    datastore = DatastoreService(
        SqlDatastore(bootstrap.database_engine(settings)),
        Keyring(settings.keys_dir),
        redactor=redactor,
    )
    schemas = ActionSchemas()
    return ShadowEvaluator(
        bootstrap.registry_reader(settings),
        datastore,
        bootstrap.parameter_renderer(settings, datastore, schemas=schemas),
        redactor=redactor,
        schemas=schemas,
        system_user=settings.system_user,
    )


def _moment(timestamp: str) -> dt.datetime:
    """An occurrence time as the matcher wants it (now, if it cannot be read)."""
    try:
        return dt.datetime.strptime(timestamp, ISO).replace(tzinfo=dt.UTC)
    except ValueError:
        pass
    try:
        moment = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return utc_now()
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _json_safe(value: dict[str, Any]) -> dict[str, Any]:
    """Rendered values as JSON has them (what the API sends, what the diff compares)."""
    loaded: dict[str, Any] = json.loads(json.dumps(value, default=str))
    return loaded
