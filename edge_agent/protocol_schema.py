"""The JSON Schema of the wire protocol for outside clients, generated from its one definition.

``python -m edge_agent.protocol_schema`` rewrites ``docs/protocol.schema.json`` from the types in
``edge_agent/protocol.py`` and the config message of ``edge_agent/config_push.py``; a test keeps the
published file up to date. The device never imports this module.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from edge_agent.config_push import ConfigMessage
from edge_agent.protocol import TOPIC_ROOT, Ack, ActionBatch, AlertNoteBatch, Batch, Status

OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "protocol.schema.json"
TOPICS = {"events": Batch, "ack": Ack, "status": Status, "config": ConfigMessage, "actions": ActionBatch,
          "alert_notes": AlertNoteBatch}  # fmt: skip
CHECKED_IN_CODE = (
    "Checked by the hub beyond this schema: an event's value is below its scale; tz is a known IANA zone; "
    "the location and device of the topic equal those of the payload; a payload is at most 1,000,000 bytes."
)


def schema() -> dict[str, Any]:
    refs, defs = msgspec.json.schema_components(list(TOPICS.values()), ref_template="#/$defs/{name}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Touchpoint wire protocol, version 1",
        "description": (
            f"MQTT payloads on {TOPIC_ROOT}/{{location_id}}/{{device_id}}/{{kind}}; x-topics names the "
            f"definition of each kind. Unknown fields are ignored. {CHECKED_IN_CODE} "
            "Generated from edge_agent/protocol.py: see docs/protocol.md."
        ),
        "x-topics": {kind: ref["$ref"] for kind, ref in zip(TOPICS, refs, strict=True)},
        "anyOf": refs,
        "$defs": defs,
    }


def render() -> str:
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    OUTPUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
