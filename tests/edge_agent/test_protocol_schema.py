"""docs/protocol.schema.json: generated from edge_agent/protocol.py, up to date, and true to the examples."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema_rs
import msgspec
import pytest

from edge_agent.config_push import encode_config
from edge_agent.protocol import Ack, ActionBatch, Rejection, Status, encode, encode_sparse
from edge_agent.protocol_schema import OUTPUT, render
from edge_agent.survey import default_survey

DOCS = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def validator(kind: str) -> Any:
    published = json.loads(OUTPUT.read_text(encoding="utf-8"))
    return jsonschema_rs.validator_for({**published, "$ref": published["x-topics"][kind]})


def doc_example(name: str) -> Any:
    match = re.search(rf"<!-- example-{name} -->\s*```json\n(.*?)```", DOCS.read_text(), re.S)
    assert match, f"docs/protocol.md lost its example {name}"
    return json.loads(match.group(1))


def actions_doc() -> dict[str, Any]:
    action: dict[str, Any] = doc_example("actions")["actions"][0]
    return action


def test_the_published_schema_is_up_to_date() -> None:
    assert OUTPUT.read_text(encoding="utf-8") == render(), (
        "docs/protocol.schema.json is stale: run .venv/bin/python -m edge_agent.protocol_schema"
    )


def test_the_documented_examples_and_what_the_code_sends_are_valid() -> None:
    assert validator("events").is_valid(doc_example("batch"))
    assert validator("config").is_valid(doc_example("config"))
    assert validator("config").is_valid(json.loads(encode_config("s-1", default_survey())))
    assert validator("config").is_valid(json.loads(encode_config(None, None)))
    assert validator("actions").is_valid(doc_example("actions"))
    assert validator("alert_notes").is_valid(doc_example("alert_notes"))
    assert not validator("alert_notes").is_valid({**doc_example("alert_notes"), "notes": []})
    actions = msgspec.convert(doc_example("actions"), ActionBatch).actions
    assert validator("config").is_valid(json.loads(encode_config("s-1", default_survey(), actions)))
    for bad in ({"reason": "no spaces"}, {"ended_on": 5}, {"text": ""}, {"id": "1"}):
        assert not validator("actions").is_valid({**doc_example("actions"), "actions": [{**actions_doc(), **bad}]})
    ack = Ack(batch_id="b-1", accepted=["x"], rejected=[Rejection(id="#2", error="value: ...")])
    assert validator("ack").is_valid(json.loads(encode(ack)))
    status = Status(online=True, device_id="dev-1", location_id="store-1", backlog=0, clock_ok=True, held=0)
    assert validator("status").is_valid(json.loads(encode_sparse(status)))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("v",), 2),
        (("device_id",), "dev 1"),
        (("events", 0, "id"), "not-a-uuid"),
        (("events", 0, "scale"), 7),
        (("events", 0, "source"), "pen"),
        (("events", 0, "seq"), -1),
        (("events", 0, "reason"), "r" * 201),
    ],
)
def test_the_schema_refuses_what_the_hub_refuses(path: tuple[str | int, ...], value: object) -> None:
    batch = doc_example("batch")
    target = batch
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert not validator("events").is_valid(batch)
