"""The one exception tree of Packhorse.

    PackhorseError                  base: every error we raise on purpose
    ├── ConfigurationError          settings or instance folder missing or invalid
    ├── InstanceError               the instance folder is in a state the command cannot work on
    ├── ValidationFailed            content did not validate; carries every diagnostic
    ├── NotFound                    a named resource does not exist
    ├── Conflict                    the change collides with existing state
    ├── Unauthenticated             credentials missing, unknown, expired or disabled
    ├── RemoteError                 a remote Packhorse (``--url``) refused a request or could
    │                               not be reached; ``status`` is the HTTP status (None: no answer)
    ├── StorageError                the database failed; ``retryable`` says whether to try again
    ├── DecryptionError             an encrypted value cannot be decrypted (damaged, altered,
    │                               wrong key or wrong place); ``key_id`` names its key if known
    ├── ExpressionError             a Jinja or YAQL expression failed to parse or evaluate;
    │                               carries ``expression`` and the orquesta-style message
    ├── ParameterError              action parameters could not be rendered, cast or checked
    │                               (immutable override, cycle, bad type, missing required...);
    │                               ``parameter`` names the one at fault when there is one
    ├── BundleError                 a bundle cannot be read: not a bundle, a format this version
    │                               does not read, a member missing or altered
    │   └── ArchiveError            an instance archive cannot be read or restored (not one,
    │                               wrong passphrase, damaged, truncated); ``path`` is the file
    ├── StateVersionError           a workflow's saved state is of a version this code does not
    │                               read (a newer one); ``found``, ``supported``, ``owner``
    ├── HandoverRefused             a handover's parcel was not given or taken (a secret parameter
    │                               and no recipient key, a sealed value that does not open);
    │                               ``execution_id`` and ``parameter`` name the value at fault
    ├── FlipRefused                 the front was not flipped (the target is not ready, the hook
    │                               failed, nothing to roll back to); ``hook`` holds what the
    │                               hook did, if it ran
    ├── Refusal                     the workflow conductor refused a request or event (unknown
    │                               task, task not staged, status change not allowed...);
    │                               ``kind`` is orquesta's exception class name
    └── WorkflowInspectionFailed    a workflow failed StackStorm's inspection at start;
                                    ``errors`` holds every problem in StackStorm's shape

Foreign exceptions (SQLAlchemy, OS, YAML, cryptography, Jinja) are translated at the adapter
boundary with ``raise ... from``, so callers handle only these. Each carries data, not just
a message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from packhorse.model.diagnostics import Diagnostic


class PackhorseError(Exception):
    """Base of every error Packhorse raises on purpose.

    ``hint`` tells the user what to do next; the CLI prints it under the message.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ConfigurationError(PackhorseError):
    """Settings or the instance folder are missing or invalid."""


class InstanceError(PackhorseError):
    """The instance folder exists but cannot serve the command (not initialised, too new...)."""


class ValidationFailed(PackhorseError):
    """Content failed validation. ``diagnostics`` holds every problem found, not the first."""

    def __init__(self, message: str, diagnostics: Sequence[Diagnostic]) -> None:
        super().__init__(message, hint="fix the problems listed above and run the command again")
        self.diagnostics = tuple(diagnostics)


class NotFound(PackhorseError):
    """A named resource does not exist."""

    def __init__(self, kind: str, ref: str) -> None:
        super().__init__(f"{kind} {ref!r} not found")
        self.kind = kind
        self.ref = ref


class Conflict(PackhorseError):
    """The requested change collides with existing state."""


class Unauthenticated(PackhorseError):
    """Credentials (password, token, API key) are missing, unknown, expired or disabled. The
    message says which, in StackStorm's words; it never contains the credential itself."""


class RemoteError(PackhorseError):
    """A remote Packhorse answered an API request with an error, or did not answer at all.

    ``status`` is the HTTP status (None when no answer came: refused, unreachable, TLS failed);
    the message is the server's ``faultstring`` when it sent one; ``url`` is what was asked.
    """

    def __init__(
        self, message: str, *, status: int | None, url: str, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.url = url


class StorageError(PackhorseError):
    """The database failed. ``retryable`` is true for transient faults (locks, lost connection)."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class DecryptionError(PackhorseError):
    """An encrypted value cannot be decrypted.

    Raised for every failure alike: a malformed or truncated value, bad encoding, a key that
    is not loaded, a wrong key, or a failed integrity check (any changed byte, or a value moved
    to another name). ``key_id`` is the id of the key the value names, when it names one.
    The message never contains key material or plaintext.
    """

    def __init__(self, message: str, *, key_id: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.key_id = key_id


class ExpressionError(PackhorseError):
    """An expression failed to parse or evaluate.

    The message has the user-visible form orquesta puts in a workflow's ``errors``::

        JinjaEvaluationException: Unable to evaluate expression '{{ x }}'.
        UndefinedError: 'x' is undefined

    (one line; wrapped here).

    ``expression`` is the failing expression (the ``{{ ... }}`` part, or the whole text for a
    template with blocks); ``kind`` is the evaluator's exception name (``JinjaEvaluationException``,
    or ``YaqlEvaluationException``); ``reason`` is ``"<ErrorClass>: <message>"`` of the
    underlying error, which is what StackStorm's parameter renderer shows after
    ``Failed to render parameter "name": ``.

    ``summary`` replaces the ``Unable to evaluate expression ...`` part for the few messages
    orquesta words differently (YAQL's ``Unable to resolve key 'k' in expression '...' from
    context.``, and ``Expression with multiple types is not supported.``).
    """

    def __init__(
        self,
        expression: str,
        reason: str,
        *,
        kind: str = "JinjaEvaluationException",
        summary: str | None = None,
    ) -> None:
        text = summary or f"Unable to evaluate expression '{expression}'. {reason}"
        super().__init__(f"{kind}: {text}")
        self.expression = expression
        self.reason = reason
        self.kind = kind


class ParameterError(PackhorseError):
    """Action parameters could not be rendered, cast or checked.

    ``parameter`` is the name of the parameter at fault when exactly one is; ``parameters``
    names every parameter the error concerns (several for a cycle, a list of missing required
    parameters or refused immutable overrides). The message never holds a secret value.
    """

    def __init__(
        self,
        message: str,
        *,
        parameter: str | None = None,
        parameters: Sequence[str] = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        names = tuple(parameters) or ((parameter,) if parameter is not None else ())
        if parameter is None and len(names) == 1:
            parameter = names[0]
        self.parameter = parameter
        self.parameters = names


class Refusal(PackhorseError):
    """The workflow conductor refused a request or a task event.

    ``kind`` is the name of the exception orquesta raises in the same case
    (``InvalidWorkflowStatusTransition``, ``InvalidTask``, ``InvalidTaskStateEntry``,
    ``InvalidTaskRerunRequest``, ``WorkflowIsActiveAndNotRerunableError``, ``InvalidStatus``),
    and the message is orquesta's, so that hosts can report it as StackStorm did.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


class WorkflowInspectionFailed(PackhorseError):
    """A workflow failed the inspection StackStorm runs when it starts. ``errors`` holds every
    problem, each a mapping in StackStorm's shape (``type``, ``message``, ``spec_path``,
    ``schema_path``...), as the failed execution's result lists them."""

    def __init__(self, errors: Sequence[Mapping[str, Any]]) -> None:
        super().__init__(f"the workflow failed inspection: {len(errors)} problem(s)")
        self.errors = tuple(errors)


class BundleError(PackhorseError):
    """A bundle cannot be read: not a bundle, a format this version does not read, a member
    missing, altered or with an unsafe path."""


class ArchiveError(BundleError):
    """An instance archive (``packhorse archive``) cannot be read or restored: not an
    archive, a format this version does not read, a wrong passphrase, damaged or truncated.
    ``path`` is the archive file."""

    def __init__(self, message: str, *, path: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.path = path


class StateVersionError(PackhorseError):
    """A workflow's saved state is of a version this code does not read: written by a newer
    Packhorse (or damaged). ``owner`` is the workflow execution's id when known."""

    def __init__(self, found: Any, supported: int, *, owner: str = "") -> None:
        whose = f"workflow execution {owner}" if owner else "a workflow execution"
        super().__init__(
            f"the saved state of {whose} is version {found!r}; this Packhorse reads versions"
            f" up to {supported}",
            hint="run the Packhorse version that saved it (or a newer one), or roll back to it;"
            " the workflow is left as it is",
        )
        self.found = found
        self.supported = supported
        self.owner = owner

    def naming(self, owner: str) -> StateVersionError:
        """The same error, naming the workflow execution it is about."""
        return StateVersionError(self.found, self.supported, owner=owner)


class HandoverRefused(PackhorseError):
    """A handover parcel was refused as a whole (nothing given, nothing stored)."""

    def __init__(
        self,
        message: str,
        *,
        execution_id: str | None = None,
        parameter: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.execution_id = execution_id
        self.parameter = parameter


class FlipRefused(PackhorseError):
    """The front was not flipped, and its state is unchanged. ``hook`` is the
    :class:`packhorse.front.hook.HookResult` when the site's hook ran and failed."""

    def __init__(self, message: str, *, hint: str | None = None, hook: Any = None) -> None:
        super().__init__(message, hint=hint)
        self.hook = hook
