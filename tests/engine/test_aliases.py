"""The alias service's pure helpers: the ActionAliasAPI document and the ack message."""

from __future__ import annotations

from typing import Any

from packhorse.engine.aliases import ack_message, alias_document, alias_id, result_message
from packhorse.model.content import Kind, Resource


def alias(**body: Any) -> Resource:
    document = {"name": "hi", "action_ref": "chat.hi", "formats": ["hi {{ who }}"], **body}
    return Resource(Kind.ALIAS, "chat.hi", "chat", "hi", "aliases/hi.yaml", document)


RESULT = {"execution": {"id": "e1", "parameters": {"who": "Ada"}}, "actionalias": {"ref": "x"}}


def test_alias_document_has_stackstorms_fields_and_only_the_sections_given() -> None:
    document = alias_document(alias(description="Say hi.", ack={"enabled": False}))
    assert document == {
        "id": alias_id("chat.hi"),
        "ref": "chat.hi",
        "uid": "action_alias:chat:hi",
        "name": "hi",
        "pack": "chat",
        "description": "Say hi.",
        "enabled": True,
        "action_ref": "chat.hi",
        "formats": ["hi {{ who }}"],
        "metadata_file": "aliases/hi.yaml",
        "ack": {"enabled": False},
    }


def test_ack_message_and_extra_are_rendered_over_the_answer() -> None:
    added = ack_message(
        alias(
            ack={
                "format": "Hi {{ execution.parameters.who }} ({{ execution.id }})",
                "extra": {"colour": "{{ actionalias.ref }}"},
            }
        ),
        RESULT,
    )
    assert added == {"message": "Hi Ada (e1)", "extra": {"colour": "x"}}
    assert ack_message(alias(), RESULT) == {}
    assert ack_message(alias(ack={"enabled": True}), RESULT) == {}


def test_an_ack_that_does_not_render_says_so() -> None:
    added = ack_message(alias(ack={"format": "{{ execution.nope.deeper }}"}), RESULT)
    assert added["message"].startswith('Cannot render "format" in field "ack" for alias. ')


def test_result_message_renders_the_result_format_over_the_finished_execution() -> None:
    execution = {"result": {"stdout": "done"}, "status": "succeeded"}
    with_format = alias(result={"format": "{{ execution.result.stdout }} ({{ alias.ref }})"})
    assert result_message(with_format, execution) == "done (chat.hi)"
    lenient = alias(result={"format": "[{{ execution.result.nope }}]"})
    assert result_message(lenient, execution) == "[]"
    assert result_message(alias(), execution) is None
    disabled = alias(result={"enabled": False, "format": "x"})
    assert result_message(disabled, execution) is None
