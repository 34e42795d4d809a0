"""A queued execution's secret parameter handed over between two instances that each have
their own datastore key (engine/handover_secrets.py through HandoverService): sealed for the
receiver's recipient key on the way, encrypted under the receiver's key when stored, run there
with the right clear value, and in clear nowhere (parcel, results, logs). A parcel without a
recipient, or with a value that does not open, is refused whole."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
from pathlib import Path

import pytest
from tests.engine.workflow_helpers import drive, ended

from packhorse import bootstrap, intake_wiring
from packhorse.crypto.cipher import is_encrypted_token, key_id_of
from packhorse.crypto.handover import is_sealed
from packhorse.engine.instance import init_instance
from packhorse.engine.runtime import Runtime, build_runtime
from packhorse.errors import HandoverRefused
from packhorse.model.execution import Execution, Status
from packhorse.model.intake import Moved, Parcel
from packhorse.settings import Settings, load_settings

SECRET = "vault-secret-7c1d9e"
PACK = {
    "pack.yaml": "ref: vault\nname: vault\ndescription: Secret handover test pack.\n"
    "version: 1.0.0\nauthor: Packhorse developers\nemail: packhorse@example.org\n",
    "actions/digest.yaml": """---
name: digest
runner_type: local-shell-cmd
description: Prints the SHA-256 of its secret, never the secret.
enabled: true
parameters:
  password:
    type: string
    secret: true
    required: true
  cmd:
    default: printf '%s' '{{ password }}' | sha256sum | cut -d' ' -f1
""",
}


def _with_pack(home: Path) -> Settings:
    for name, text in PACK.items():
        path = home / "packs" / "vault" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    settings = load_settings(home)
    outcome = bootstrap.register_instance_packs(settings, refs=["vault"])
    assert outcome.ok, [d.format() for d in outcome.diagnostics]
    return settings


@dataclasses.dataclass
class Pair:
    sender: Runtime
    receiver: Runtime


@pytest.fixture
def pair(instance_home: Path, tmp_path: Path) -> Pair:
    receiver_home = tmp_path / "receiver"
    init_instance(receiver_home)  # its own datastore key, as every instance has
    sender = build_runtime(_with_pack(instance_home), slots=1, warm_python=False)
    receiver = build_runtime(_with_pack(receiver_home), slots=1, warm_python=False)
    sender_key = sender.datastore.encrypt("x")
    assert key_id_of(sender_key) != key_id_of(receiver.datastore.encrypt("x"))
    return Pair(sender, receiver)


def _queued(pair: Pair) -> str:
    execution = pair.sender.executions.request("vault.digest", {"password": SECRET}, user="t")
    assert execution.status is Status.SCHEDULED  # no worker here: it waits to be handed over
    assert is_encrypted_token(execution.parameters["password"])
    return execution.id


def test_a_secret_parameter_is_sealed_for_the_receiver_and_runs_there(
    pair: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    execution_id = _queued(pair)
    stored_token = pair.sender.executions.get(execution_id).parameters["password"]
    sender = intake_wiring.handover_service(pair.sender.settings)
    receiver = intake_wiring.handover_service(pair.receiver.settings)

    recipient = receiver.recipient_key()
    assert recipient.startswith("phr1:") and receiver.recipient_key() == recipient
    parcel = sender.outgoing(recipient=recipient)
    wire = json.dumps(parcel.fields())
    assert SECRET not in wire and stored_token not in wire
    [carried] = parcel.executions
    assert is_sealed(carried.parameters["password"])

    assert receiver.receive(Parcel.from_fields(json.loads(wire))) == Moved(0, 1)
    assert receiver.receive(Parcel.from_fields(json.loads(wire))) == Moved(0, 0)
    stored = pair.receiver.executions.get(execution_id)
    token = stored.parameters["password"]
    assert is_encrypted_token(token) and token != stored_token
    assert pair.receiver.datastore.decrypt(token) == SECRET

    asyncio.run(drive(pair.receiver, ended(pair.receiver, execution_id)))
    ran = pair.receiver.executions.get(execution_id)
    assert ran.status is Status.SUCCEEDED, ran.result
    assert ran.result is not None
    assert ran.result["stdout"].strip() == hashlib.sha256(SECRET.encode()).hexdigest()
    assert SECRET not in json.dumps(ran.result) and SECRET not in json.dumps(ran.context)
    assert SECRET not in caplog.text


def test_without_a_recipient_a_parcel_holding_a_secret_is_refused(pair: Pair) -> None:
    execution_id = _queued(pair)
    sender = intake_wiring.handover_service(pair.sender.settings)
    with pytest.raises(HandoverRefused) as refused:
        sender.outgoing()
    assert refused.value.execution_id == execution_id
    assert refused.value.parameter == "password"
    assert refused.value.hint is not None and "recipient" in refused.value.hint
    with pytest.raises(HandoverRefused, match="not a recipient key"):
        sender.outgoing(recipient="phr1:short")


def test_a_value_that_does_not_open_refuses_the_parcel_and_stores_nothing(pair: Pair) -> None:
    execution_id = _queued(pair)
    other = pair.sender.executions.request("vault.digest", {"password": "other"}, user="t")
    sender = intake_wiring.handover_service(pair.sender.settings)
    receiver = intake_wiring.handover_service(pair.receiver.settings)
    first, second = sender.outgoing(recipient=receiver.recipient_key()).executions
    assert first.id == execution_id
    sealed = first.parameters["password"]
    prefix, ephemeral, payload = sealed.split(":")
    flipped = "B" if payload[10] == "A" else "A"
    altered = f"{prefix}:{ephemeral}:{payload[:10]}{flipped}{payload[11:]}"

    def password(execution: Execution, value: str) -> Execution:
        return dataclasses.replace(execution, parameters={"password": value})

    refusals = [
        # altered, after a good one: the good one is not stored either
        (Parcel((), (second, password(first, altered))), first.id),
        # the first one's sealed value moved over to the second execution
        (Parcel((), (first, password(second, sealed))), second.id),
        # sealed for another instance (the sender's own recipient key)
        (sender.outgoing(recipient=sender.recipient_key()), first.id),
        # the sender's datastore token, as the handover used to carry it
        (Parcel((), (pair.sender.executions.get(execution_id),)), first.id),
    ]
    for parcel, at_fault in refusals:
        with pytest.raises(HandoverRefused) as refused:
            receiver.receive(parcel)
        assert (refused.value.execution_id, refused.value.parameter) == (at_fault, "password")
        assert f"execution {at_fault}: secret parameter 'password'" in refused.value.message
        assert SECRET not in refused.value.message
    for id_ in (execution_id, other.id):
        assert pair.receiver.store.get(id_) is None
    assert receiver.receive(Parcel((), (first, second))) == Moved(0, 2)
