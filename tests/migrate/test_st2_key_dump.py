"""Reading what ``st2 key list -j`` prints: scopes, users, expiry, and every problem."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from packhorse.migrate.st2_key_dump import parse_key_dump
from packhorse.model.datastore import Scope

NOW = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def parse(items: object) -> tuple[list[tuple[object, ...]], list[str]]:
    parsed, problems = parse_key_dump(json.dumps(items), "dump.json", now=NOW)
    return [
        (i.scope, i.user, i.name, i.value, i.secret, i.encrypted, i.expires_at) for i in parsed
    ], problems


def test_scopes_users_secrets_and_expiry() -> None:
    items, problems = parse(
        [
            {"name": "a", "value": "1", "scope": "st2kv.system", "user": "ignored"},
            {"name": "b", "value": "2", "scope": "system", "ttl": 60},
            {"name": "c", "value": "AB12", "scope": "st2kv.user", "user": "alice", "secret": True,
             "encrypted": True},
            {"name": "bob:d", "value": "x", "scope": "st2kv.user", "user": "bob",
             "expire_timestamp": "2030-05-06T07:08:09.123456Z"},
            {"name": "e", "value": "clear", "secret": True, "encrypted": False},
            {"name": "f", "value": 5},
            {"name": "g", "value": "v", "encrypted": True},
        ]
    )  # fmt: skip
    assert problems == []
    assert items == [
        (Scope.SYSTEM, "", "a", "1", False, False, None),
        (Scope.SYSTEM, "", "b", "2", False, False, "2026-01-01T12:01:00.000000Z"),
        (Scope.USER, "alice", "c", "AB12", True, True, None),
        (Scope.USER, "bob", "d", "x", False, False, "2030-05-06T07:08:09.123456Z"),
        (Scope.SYSTEM, "", "e", "clear", True, False, None),
        (Scope.SYSTEM, "", "f", "5", False, False, None),
        (Scope.SYSTEM, "", "g", "v", False, False, None),  # not secret: not a ciphertext
    ]


def test_the_internal_user_spelling_gives_the_user() -> None:
    items, problems = parse([{"name": "carol:k", "value": "v", "scope": "st2kv.user"}])
    assert problems == [] and items[0][:3] == (Scope.USER, "carol", "k")


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("{", "dump.json: not JSON (Expecting property name enclosed in double quotes at line 1)"),
        ('{"a": 1}', "dump.json: not a JSON list (expected what 'st2 key list -j' prints)"),
        ('[1]', "dump.json: item 1: not an object"),
        ('[{"value": "v"}]', "dump.json: item 1: 'name' is missing or not a string"),
        ('[{"name": "k"}]', "dump.json: item 1 (k): 'value' is missing"),
        ('[{"name": " k", "value": "v"}]',
         "dump.json: item 1 ( k): a name with surrounding spaces or control characters"),
        ('[{"name": "k", "value": "v", "scope": "st2kv.user"}]',
         "dump.json: item 1 (k): a user-scoped item without a user"),
        ('[{"name": "k", "value": "v", "ttl": 0}]',
         "dump.json: item 1 (k): ttl 0 is not a positive number of seconds"),
        ('[{"name": "k", "value": "v", "expire_timestamp": "soon"}]',
         "dump.json: item 1 (k): expire_timestamp 'soon' is not an ISO 8601 time"),
        ('[{"name": "k", "value": "v"}, {"name": "k", "value": "w", "scope": "system"}]',
         "dump.json: system:k appears twice"),
    ],
)  # fmt: skip
def test_problems_are_named(document: str, problem: str) -> None:
    _items, problems = parse_key_dump(document, "dump.json", now=NOW)
    assert problems == [problem]


def test_every_problem_is_reported_not_just_the_first() -> None:
    _items, problems = parse([{"name": "a"}, {"value": "b"}, {"name": "c", "value": "v"}])
    assert len(problems) == 2
