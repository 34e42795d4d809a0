"""The datastore as a use case: set, get, list, delete, load, export and key rotation.

Secret values are encrypted with the instance key before they are stored and decrypted only
when a caller asks for the clear value (``decrypt=True``) or an expression uses it. Everything
else sees :data:`MASK`, as StackStorm shows secrets.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from packhorse.crypto.cipher import (
    DATASTORE_ASSOCIATED_DATA,
    NONCE_SIZE,
    decrypt,
    encrypt,
    is_encrypted_token,
    key_id_of,
)
from packhorse.crypto.keys import generate_key
from packhorse.crypto.stackstorm import St2Key, st2_decrypt
from packhorse.engine.clock import utc_now
from packhorse.engine.keyring import Keyring
from packhorse.errors import ConfigurationError, DecryptionError, NotFound
from packhorse.model.datastore import KeyValue, Scope
from packhorse.params.masking import MASK, Redactor
from packhorse.storage.ports import Datastore

ISO_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime(ISO_FORMAT)


@dataclass(frozen=True, slots=True)
class LoadReport:
    loaded: int
    secrets: int
    """How many of the loaded values are secret (stored encrypted)."""


@dataclass(frozen=True, slots=True)
class RotationReport:
    new_key_id: str
    reencrypted: int
    resumed: bool


class DatastoreService:
    """StackStorm's key-value datastore with encryption, TTL and StackStorm's JSON formats."""

    def __init__(
        self,
        store: Datastore,
        keyring: Keyring,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
        redactor: Redactor | None = None,
    ) -> None:
        self._store = store
        self._redactor = redactor
        self._keyring = keyring
        self._clock = clock
        self._random = random_bytes

    def _now(self) -> str:
        return iso(self._clock())

    # -- values -----------------------------------------------------------------------------

    def encrypt(self, plaintext: str) -> str:
        key = self._keyring.keys().writer
        nonce = self._random(NONCE_SIZE)
        return encrypt(key, plaintext, associated=DATASTORE_ASSOCIATED_DATA, nonce=nonce)

    def decrypt(self, token: str) -> str:
        """The clear text of a token made with one of this instance's keys."""
        readers = self._keyring.keys().readers
        clear = decrypt(readers, token, associated=DATASTORE_ASSOCIATED_DATA)
        if self._redactor is not None:
            self._redactor.add(clear)
        return clear

    def set_value(
        self,
        name: str,
        value: str,
        *,
        scope: Scope = Scope.SYSTEM,
        user: str = "",
        secret: bool = False,
        ttl: int | None = None,
        description: str = "",
    ) -> KeyValue:
        """Create or replace a pair; a secret is encrypted before it is stored."""
        pair = self._pair(
            name, value, scope=scope, user=user, secret=secret, ttl=ttl, description=description
        )
        self._store.put(pair)
        return self._shown(pair, decrypt=False)

    def _pair(
        self,
        name: str,
        value: str,
        *,
        scope: Scope,
        user: str,
        secret: bool,
        ttl: int | None,
        description: str,
        encrypted: bool = False,
    ) -> KeyValue:
        _check_name(name)
        if scope is Scope.USER and not user:
            raise ConfigurationError(f"key {name!r}: a user-scoped key needs a user")
        if ttl is not None and ttl <= 0:
            raise ConfigurationError(f"key {name!r}: ttl must be a positive number of seconds")
        now = self._clock()
        if secret and not encrypted:
            if self._redactor is not None:
                self._redactor.add(value)
            value = self.encrypt(value)
        return KeyValue(
            name=name,
            value=value,
            scope=scope,
            user=user if scope is Scope.USER else "",
            secret=secret,
            description=description,
            expires_at=iso(now + dt.timedelta(seconds=ttl)) if ttl else None,
            updated_at=iso(now),
        )

    def get_value(
        self, name: str, *, scope: Scope = Scope.SYSTEM, user: str = "", decrypt: bool = False
    ) -> KeyValue:
        pair = self._store.get(scope, user, name, now=self._now())
        if pair is None:
            raise NotFound(f"{scope.value} key", name)
        return self._shown(pair, decrypt=decrypt)

    def list_values(
        self,
        *,
        scope: Scope | None = Scope.SYSTEM,
        user: str | None = None,
        prefix: str | None = None,
        decrypt: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[KeyValue]:
        pairs = self._store.find(
            scope, user, now=self._now(), prefix=prefix, limit=limit, offset=offset
        )
        return [self._shown(pair, decrypt=decrypt) for pair in pairs]

    def delete_value(self, name: str, *, scope: Scope = Scope.SYSTEM, user: str = "") -> None:
        if not self._store.delete(scope, user, name):
            raise NotFound(f"{scope.value} key", name)

    def purge_expired(self) -> int:
        total = 0
        while purged := self._store.purge_expired(now=self._now()):
            total += purged
        return total

    def _shown(self, pair: KeyValue, *, decrypt: bool) -> KeyValue:
        if not pair.secret:
            return pair
        return replace(pair, value=self.decrypt(pair.value) if decrypt else MASK)

    # -- for expressions (st2kv) ------------------------------------------------------------

    def lookup(self, scope: str, name: str) -> str | None:
        """``expr.Datastore`` lookup: the stored value (a secret stays a token)."""
        if scope == Scope.USER.value:
            user, _, key = name.partition(":")
            pair = self._store.get(Scope.USER, user, key, now=self._now())
        else:
            pair = self._store.get(Scope.SYSTEM, "", name, now=self._now())
        return None if pair is None else pair.value

    # -- StackStorm's JSON formats ----------------------------------------------------------

    def load(
        self,
        items: Sequence[Mapping[str, Any]],
        *,
        source: str,
        convert: bool = False,
        st2_key: St2Key | None = None,
    ) -> LoadReport:
        """Load ``st2 key load`` items (as ``st2 key list -j`` prints them), all or nothing.

        ``secret: true`` + ``encrypted: true`` values are ciphertexts: StackStorm's (hex,
        decrypted with ``st2_key`` and re-encrypted with this instance's key, never stored or
        shown in clear) or our own ``ph1:`` tokens made with a key this instance holds.
        """
        pairs = [
            self._loaded_pair(item, index, source, convert, st2_key)
            for index, item in enumerate(items)
        ]
        self._store.put_many(pairs)
        return LoadReport(loaded=len(pairs), secrets=sum(p.secret for p in pairs))

    def _loaded_pair(
        self,
        item: Mapping[str, Any],
        index: int,
        source: str,
        convert: bool,
        st2_key: St2Key | None,
    ) -> KeyValue:
        where = f"{source}: item {index + 1}"
        if not isinstance(item, Mapping):
            raise ConfigurationError(f"{where}: expected a mapping with name and value")
        name, value = item.get("name"), item.get("value")
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"{where}: 'name' is required and must be a string")
        where = f"{source}: key {name!r}"
        if value is None:
            raise ConfigurationError(f"{where}: 'value' is required")
        if not isinstance(value, str):
            if not convert:
                raise ConfigurationError(
                    f"{where}: value is not a string",
                    hint="pass --convert to store non-string values as JSON text",
                )
            value = json.dumps(value)
        try:
            scope = Scope.parse(str(item.get("scope", "system")))
        except ValueError as error:
            raise ConfigurationError(f"{where}: {error}") from None
        user = str(item.get("user") or "")
        secret = bool(item.get("secret", False))
        encrypted = bool(item.get("encrypted", False)) and secret
        ttl = item.get("ttl")
        if ttl is not None and (not isinstance(ttl, int) or isinstance(ttl, bool)):
            raise ConfigurationError(f"{where}: ttl must be an integer number of seconds")
        if encrypted:
            value = self._rewrap(value, where, st2_key)
        pair = self._pair(
            name,
            value,
            scope=scope,
            user=user,
            secret=secret,
            ttl=ttl,
            description=str(item.get("description") or ""),
            encrypted=encrypted,
        )
        expires = item.get("expire_timestamp")
        if ttl is None and isinstance(expires, str) and expires:
            pair = replace(pair, expires_at=_normalise_timestamp(expires, where))
        return pair

    def _rewrap(self, value: str, where: str, st2_key: St2Key | None) -> str:
        if is_encrypted_token(value):
            if key_id_of(value) not in self._keyring.keys().readers:
                raise DecryptionError(
                    f"{where}: encrypted with key {key_id_of(value)}, which this instance lacks",
                    key_id=key_id_of(value),
                    hint="export it decrypted from its instance, or move it with a bundle",
                )
            self.decrypt(value)  # prove it is readable before storing it
            return value
        if st2_key is None:
            raise ConfigurationError(
                f"{where}: value is encrypted by StackStorm",
                hint="pass --st2-key-file with StackStorm's datastore key file to import it",
            )
        return self.encrypt(st2_decrypt(st2_key, value))

    def export(
        self,
        *,
        scope: Scope | None = None,
        prefix: str | None = None,
        decrypt: bool = False,
    ) -> list[dict[str, Any]]:
        """Pairs as ``st2 key list -j`` prints them; ``st2 key load`` and :meth:`load` read it.

        Secrets are exported as this instance's tokens (``encrypted: true``) unless
        ``decrypt`` asks for clear text explicitly.
        """
        pairs = self._store.find(scope, None, now=self._now(), prefix=prefix)
        return [self._exported(pair, decrypt=decrypt) for pair in pairs]

    def _exported(self, pair: KeyValue, *, decrypt: bool) -> dict[str, Any]:
        document: dict[str, Any] = {
            "name": pair.name,
            "value": self.decrypt(pair.value) if pair.secret and decrypt else pair.value,
            "scope": pair.scope.full,
            "secret": pair.secret,
            "encrypted": pair.secret and not decrypt,
        }
        if pair.scope is Scope.USER:
            document["user"] = pair.user
        if pair.description:
            document["description"] = pair.description
        if pair.expires_at:
            document["expire_timestamp"] = pair.expires_at
        return document

    # -- key rotation -----------------------------------------------------------------------

    def rotate(
        self, *, batch: int = 200, on_batch: Callable[[int], None] | None = None
    ) -> RotationReport:
        """Re-encrypt every secret under a new key; safe to kill and rerun at any point.

        The new key is written to ``keys/datastore.key.next`` first (new writes use it from
        then on), values are re-encrypted in batches (compare-and-set, so a value changed
        meanwhile keeps its newer ciphertext), and finally the next key replaces the old one
        in one rename. A rerun resumes with the key a crashed rotation left.
        """
        resumed = self._keyring.keys().rotating
        new_key = self._keyring.begin_rotation(generate_key(self._random))
        readers = self._keyring.keys().readers
        done = 0
        while True:
            stale = [
                pair
                for pair in self._all_secrets()
                if is_encrypted_token(pair.value) and key_id_of(pair.value) != new_key.key_id
            ]
            if not stale:
                break
            for start in range(0, len(stale), batch):
                chunk = stale[start : start + batch]
                swaps = [
                    (
                        pair,
                        encrypt(
                            new_key,
                            decrypt(readers, pair.value, associated=DATASTORE_ASSOCIATED_DATA),
                            associated=DATASTORE_ASSOCIATED_DATA,
                            nonce=self._random(NONCE_SIZE),
                        ),
                    )
                    for pair in chunk
                ]
                done += self._store.swap_values(swaps)
                if on_batch is not None:
                    on_batch(done)
        self._keyring.finish_rotation()
        return RotationReport(new_key_id=new_key.key_id, reencrypted=done, resumed=resumed)

    def _all_secrets(self) -> Iterable[KeyValue]:
        after: tuple[str, str, str] | None = None
        while page := self._store.secret_pairs(after=after):
            yield from page
            last = page[-1]
            after = (last.scope.value, last.user, last.name)


def key_record(pair: KeyValue) -> dict[str, Any]:
    """A pair as StackStorm's API and ``st2 key get -j`` show it (a secret is masked unless it
    was read with ``decrypt``): what ``packhorse key`` prints and ``/api/v1/keys`` answers."""
    record: dict[str, Any] = {
        "name": pair.name,
        "value": pair.value,
        "secret": pair.secret,
        "encrypted": pair.secret and pair.value == MASK,
        "scope": pair.scope.full,
    }
    if pair.user:
        record["user"] = pair.user
    if pair.expires_at:
        record["expire_timestamp"] = pair.expires_at
    if pair.description:
        record["description"] = pair.description
    return record


def _check_name(name: str) -> None:
    if not name or name != name.strip() or any(ord(c) < 32 for c in name):
        raise ConfigurationError(
            f"invalid key name {name!r}: it must be non-empty, with no surrounding spaces "
            "or control characters"
        )


def _normalise_timestamp(text: str, where: str) -> str:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigurationError(f"{where}: expire_timestamp {text!r} is not ISO-8601") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return iso(moment)
