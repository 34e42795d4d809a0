"""The secret parameters of handed-over executions, re-sealed for the receiving instance.

Every instance has its own datastore key, so the sender never hands over its encrypted
tokens: it decrypts each secret parameter value and seals it for the receiver's recipient
key (``phseal1:...``, :mod:`packhorse.crypto.handover`), bound to the execution id and the
parameter name. The receiver opens each with its recipient private key and encrypts it under
its own datastore key before the row is stored. A secret never travels in clear, and a value
that does not open refuses the whole parcel.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from packhorse.crypto import handover as sealing
from packhorse.crypto import transport
from packhorse.crypto.cipher import is_encrypted_token
from packhorse.errors import DecryptionError, HandoverRefused
from packhorse.model.execution import Execution

RECIPIENT_HINT = (
    "pass the receiving instance's recipient key (GET /api/v1/packhorse/recipient-key) as"
    " ?recipient=phr1:...; 'packhorse cutover' and 'rollback' do this themselves"
)


@dataclass(frozen=True, slots=True)
class HandoverKeys:
    """What re-sealing needs of the instance: its datastore cipher and its recipient key."""

    encrypt: Callable[[str], str]
    """Encrypts under this instance's datastore key (a ``ph1:`` token)."""
    decrypt: Callable[[str], str]
    """Decrypts a ``ph1:`` token of this instance (and remembers it for redaction)."""
    recipient_public: Callable[[], bytes]
    """This instance's recipient public key, created first if missing."""
    recipient_private: Callable[[], bytes | None]
    """This instance's recipient private key; None when it has none."""
    random_bytes: Callable[[int], bytes] = secrets.token_bytes
    remember: Callable[[str], None] | None = None
    """Told every clear value opened here (the process's log redactor)."""


def parse_recipient(text: str) -> bytes:
    """The public key of a ``phr1:`` text (:class:`HandoverRefused` saying why not)."""
    try:
        return transport.parse_recipient(text)
    except ValueError as error:
        raise HandoverRefused(f"not a recipient key: {error}", hint=RECIPIENT_HINT) from None


def secret_names(execution: Execution) -> list[str]:
    """The parameters of ``execution`` stored encrypted."""
    return [name for name, value in execution.parameters.items() if is_encrypted_token(value)]


def seal_execution(
    keys: HandoverKeys | None, execution: Execution, recipient: bytes | None
) -> Execution:
    """``execution`` with each encrypted parameter decrypted and sealed for ``recipient``.

    :class:`HandoverRefused` when it has a secret parameter and there is no recipient (nor
    keys to decrypt with), or a value does not decrypt here."""
    names = secret_names(execution)
    if not names:
        return execution
    if recipient is None or keys is None:
        raise HandoverRefused(
            f"execution {execution.id} has secret parameter {names[0]!r}: a handover seals"
            " secrets for the receiving instance, and no recipient key was given",
            execution_id=execution.id,
            parameter=names[0],
            hint=RECIPIENT_HINT,
        )
    parameters = dict(execution.parameters)
    for name in names:
        try:
            clear = keys.decrypt(parameters[name])
        except DecryptionError as error:
            raise HandoverRefused(
                f"execution {execution.id}: secret parameter {name!r} does not decrypt here:"
                f" {error.message}",
                execution_id=execution.id,
                parameter=name,
            ) from None
        try:
            parameters[name] = sealing.seal_value(
                recipient,
                clear,
                associated=sealing.parameter_identity(execution.id, name),
                ephemeral_private=keys.random_bytes(transport.RECIPIENT_KEY_SIZE),
                nonce=keys.random_bytes(transport.NONCE_SIZE),
            )
        except ValueError as error:
            raise HandoverRefused(f"cannot seal for that recipient key: {error}") from None
    return replace(execution, parameters=parameters)


def open_execution(keys: HandoverKeys | None, execution: Execution) -> Execution:
    """``execution`` with each sealed parameter opened and encrypted under this instance's
    datastore key. :class:`HandoverRefused` naming the execution and parameter when a value
    does not open (sealed for another instance, altered, moved) or is a datastore token of
    another instance."""
    parameters: dict[str, Any] = dict(execution.parameters)
    for name, value in execution.parameters.items():
        if sealing.is_sealed(value):
            parameters[name] = _open(keys, execution.id, name, value)
        elif is_encrypted_token(value):
            _readable(keys, execution.id, name, value)
    return replace(execution, parameters=parameters)


def _open(keys: HandoverKeys | None, execution_id: str, name: str, value: str) -> str:
    private = None if keys is None else keys.recipient_private()
    if keys is None or private is None:
        raise HandoverRefused(
            f"execution {execution_id}: secret parameter {name!r} is sealed for a recipient"
            " key, and this instance has none",
            execution_id=execution_id,
            parameter=name,
        )
    try:
        clear = sealing.open_value(
            private, value, associated=sealing.parameter_identity(execution_id, name)
        )
    except DecryptionError as error:
        raise HandoverRefused(
            f"execution {execution_id}: secret parameter {name!r} does not open: {error.message}",
            execution_id=execution_id,
            parameter=name,
        ) from None
    if keys.remember is not None:
        keys.remember(clear)
    return keys.encrypt(clear)


def _readable(keys: HandoverKeys | None, execution_id: str, name: str, token: str) -> None:
    """A datastore token (from a sender that did not seal): kept only if this instance's
    keys read it (instances sharing a key); else it would run with garbage."""
    try:
        if keys is None:
            raise DecryptionError("no datastore key to read it with")
        keys.decrypt(token)
    except DecryptionError:
        raise HandoverRefused(
            f"execution {execution_id}: secret parameter {name!r} is encrypted under another"
            " instance's datastore key",
            execution_id=execution_id,
            parameter=name,
            hint="hand over with a current 'packhorse cutover': it seals secrets for the receiver",
        ) from None
