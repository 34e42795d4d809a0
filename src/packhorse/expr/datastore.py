"""The ``st2kv`` object of a render context: datastore values looked up lazily, without I/O.

Templates read the datastore as ``{{ st2kv.system.key }}``, ``{{ st2kv.system.a.b }}`` (the
dotted key ``a.b``), ``{{ st2kv.system['my-key'] }}`` and ``{{ st2kv.user.key }}`` (the key
``<user>:key`` as StackStorm stores user-scoped keys). The storage side is a callable passed in,
so this module stays pure; the engine binds it to the real datastore.

Behaviour kept from StackStorm's ``KeyValueLookup``:

* each attribute step extends a dotted key name; only the key whose value is finally used is
  looked up, once per ``Datastore`` (StackStorm also fetches every intermediate prefix);
* a missing key reads as the empty string, and values are strings;
* ``int()`` and ``float()`` of a lookup convert its value, so ``| int`` and ``| float`` work.

Deliberate differences (docs/compatibility.md): a lookup compares equal to a string holding its
value (in StackStorm ``st2kv.system.x == 'a'`` is always false), its truth value is the truth of
its value (in StackStorm a missing key is true), and every filter that serialises data treats it
as its string (StackStorm fails with "KeyValueLookup is not JSON serializable", st2 #4043, #5260).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

__all__ = [
    "SYSTEM_SCOPE",
    "USER_SCOPE",
    "Datastore",
    "Decrypt",
    "KeyValueLookup",
    "Lookup",
    "decrypt_lookup",
    "key_name",
    "plain",
]

SYSTEM_SCOPE: Final = "system"
USER_SCOPE: Final = "user"

Lookup = Callable[[str, str], "str | None"]
"""``lookup(scope, name)``: the stored value of key ``name`` in ``scope``, or None.

``scope`` is ``"system"`` or ``"user"``; for the user scope ``name`` is the stored name
``<user>:<key>``. Values are returned as stored: an encrypted value comes back as its ciphertext.
"""

Decrypt = Callable[[str], str]
"""``decrypt(ciphertext)``: the plain text of a value encrypted with the datastore key."""


class _Source:
    """One scope of one datastore: the lookup, the user prefix and the per-render value cache."""

    __slots__ = ("cache", "decrypt", "lookup", "name_prefix", "scope")

    def __init__(
        self, lookup: Lookup, scope: str, name_prefix: str, decrypt: Decrypt | None
    ) -> None:
        self.lookup = lookup
        self.scope = scope
        self.name_prefix = name_prefix
        self.decrypt = decrypt
        self.cache: dict[str, str] = {}

    def value(self, key: str) -> str:
        try:
            return self.cache[key]
        except KeyError:
            found = self.lookup(self.scope, self.name_prefix + key)
            value = "" if found is None else str(found)
            self.cache[key] = value
            return value


class KeyValueLookup:
    """A (possibly partial) key of one datastore scope; its value is fetched when first used."""

    __slots__ = ("_key", "_source")

    def __init__(self, source: _Source, key: str) -> None:
        self._source = source
        self._key = key

    def __getattr__(self, name: str) -> KeyValueLookup:
        # Private and special names are never keys: the sandbox refuses them anyway, and
        # answering them would confuse copy, pickle and introspection.
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: object) -> KeyValueLookup:
        key = f"{self._key}.{name}" if self._key else str(name)
        return KeyValueLookup(self._source, key)

    # Every public name is a datastore key (``st2kv.system.decrypted`` is the key "decrypted"),
    # so the helpers below are private or module functions.

    def _key_name(self) -> str:
        return f"st2kv.{self._source.scope}.{self._key}"

    def __str__(self) -> str:
        return self._source.value(self._key)

    def __repr__(self) -> str:
        # Never the value: it may be a secret.
        return f"<{self._key_name()}>"

    def __int__(self) -> int:
        return int(float(self))

    def __float__(self) -> float:
        return float(str(self))

    def __bool__(self) -> bool:
        return bool(str(self))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, KeyValueLookup):
            return str(self) == str(other)
        if isinstance(other, str):
            return str(self) == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(str(self))

    def _decrypted(self) -> str:
        value = str(self)
        if value == "":
            raise ValueError(
                f'Referenced datastore item "{self._key_name()}" doesn\'t exist or it contains '
                "an empty string"
            )
        return _decrypt_with(self._source.decrypt, value)


def key_name(lookup: KeyValueLookup) -> str:
    """The name as a template writes it, e.g. ``st2kv.system.a.b`` (for error messages)."""
    return lookup._key_name()


def decrypt_lookup(lookup: KeyValueLookup) -> str:
    """The decrypted value of a lookup (the ``decrypt_kv`` filter); a missing or empty key is
    an error, as in StackStorm."""
    return lookup._decrypted()


def _decrypt_with(decrypt: Decrypt | None, value: str) -> str:
    if decrypt is None:
        raise ValueError("decrypt_kv is not available here: no datastore encryption key")
    return decrypt(value)


class Datastore:
    """The ``st2kv`` entry of a render context: ``st2kv.system`` and ``st2kv.user``.

    ``user`` binds ``st2kv.user`` (StackStorm uses the API caller, or the system user for rule
    and sensor executions); without one, ``st2kv.user`` is undefined. Build one per rendering:
    it caches every value it fetched.
    """

    __slots__ = ("_decrypt", "system", "user")

    system: KeyValueLookup
    user: KeyValueLookup

    def __init__(
        self, lookup: Lookup, *, user: str | None = None, decrypt: Decrypt | None = None
    ) -> None:
        self._decrypt = decrypt
        self.system = KeyValueLookup(_Source(lookup, SYSTEM_SCOPE, "", decrypt), "")
        if user is not None:
            self.user = KeyValueLookup(_Source(lookup, USER_SCOPE, f"{user}:", decrypt), "")

    def decrypt(self, value: str) -> str:
        """Decrypt a value that is not a lookup (``{{ config_context.x | decrypt_kv }}``)."""
        return _decrypt_with(self._decrypt, value)

    def __repr__(self) -> str:
        return "<st2kv>"


def plain(value: Any) -> Any:
    """``value`` with datastore lookups turned into their strings, mappings into dicts and
    tuples into lists, recursively: what the serialising filters need."""
    if isinstance(value, KeyValueLookup):
        return str(value)
    if isinstance(value, Mapping):
        return {plain(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value
