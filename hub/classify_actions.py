"""Classifying an action batch (``.../actions``): actions for storage, and dead letters saying why not.

Like event batches: a batch is decoded in one msgspec pass, and only when that fails parsed again
leniently so that each bad action is rejected (named in the ack, kept as a dead letter) while the
good ones are stored. A batch whose envelope is bad, or whose ids disagree with its topic, is a
dead letter as a whole and is never acked.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

from edge_agent.protocol import (
    MAX_BATCH_ACTIONS,
    MAX_PAYLOAD_BYTES,
    Action,
    ActionBatch,
    Identifier,
    Invalid,
    Rejection,
    convert,
    decoder,
    describe_error,
)
from hub.storage.base import DeadLetter
from hub.storage.base_actions import IncomingActions

_BATCH = decoder(ActionBatch)


class ActionEnvelope(Struct, frozen=True):
    """An action batch whose actions are not yet validated."""

    v: Literal[1]
    device_id: Identifier
    location_id: Identifier
    batch_id: Identifier
    actions: Annotated[list[Any], Meta(min_length=1, max_length=MAX_BATCH_ACTIONS)]


def _unencodable(action: Action) -> str | None:
    """A text holding a lone surrogate (json.loads lets ``"\\ud800"`` through): neither backend can store it."""
    texts = {"text": action.text, "logged_by": action.logged_by}
    texts.update({f"texts.{k}": v for k, v in (action.texts or {}).items()})
    for name, value in texts.items():
        try:
            value.encode()
        except UnicodeEncodeError:
            return f"{name}: not valid Unicode text (a lone surrogate)"
    return None


def _check(raw: object, location_id: str) -> Action | str:
    """The action, or why it is refused."""
    try:
        action = raw if isinstance(raw, Action) else convert(raw, Action)
    except Invalid as exc:
        return describe_error(exc)
    except ValueError as exc:  # Action.__post_init__: ended_on before started_on
        return str(exc)
    if action.location_id != location_id:
        return f"location_id: {action.location_id!r} is not this device's location {location_id!r}"
    return _unencodable(action) or action


def classify_actions(
    topic_name: str, topic_ids: tuple[str, str], payload: bytes
) -> tuple[IncomingActions | None, list[DeadLetter]]:
    """One ``.../actions`` message as work for storage; ``topic_ids`` are the topic's (location, device)."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        return None, [DeadLetter(topic_name, f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}", payload)]
    raws: list[Any]
    try:
        envelope: ActionBatch | ActionEnvelope = _BATCH.decode(payload)
        raws = list(envelope.actions)
    except (ValueError, RecursionError):  # not valid: parse leniently, check action by action
        try:
            data = json.loads(payload)
        except (ValueError, RecursionError) as exc:
            return None, [DeadLetter(topic_name, f"invalid action batch: malformed JSON: {str(exc)[:200]}", payload)]
        try:
            envelope = convert(data, ActionEnvelope)
        except Invalid as exc:
            return None, [DeadLetter(topic_name, f"invalid action batch: {describe_error(exc)}", payload)]
        raws = list(envelope.actions)
    payload_ids = (envelope.location_id, envelope.device_id)
    if payload_ids != topic_ids:
        why = (
            f"actions topic is for location {topic_ids[0]!r} device {topic_ids[1]!r} but the payload says "
            f"location {payload_ids[0]!r} device {payload_ids[1]!r}"
        )
        return None, [DeadLetter(topic_name, why, payload)]
    good: list[Action] = []
    rejected: list[Rejection] = []
    letters: list[DeadLetter] = []
    for index, raw in enumerate(raws):
        checked = _check(raw, envelope.location_id)
        if isinstance(checked, Action):
            good.append(checked)
            continue
        found = raw.id if isinstance(raw, Action) else raw.get("id") if isinstance(raw, dict) else None
        label = found if isinstance(found, str) and 0 < len(found) <= 64 else f"#{index}"
        rejected.append(Rejection(id=label, error=checked))
        body = json.dumps(raw if isinstance(raw, dict) else str(raw), default=str)[:10_000]
        letters.append(
            DeadLetter(topic_name, f"action batch {envelope.batch_id} action {label}: {checked}", body.encode())
        )
    return IncomingActions(envelope.device_id, envelope.location_id, envelope.batch_id, good, rejected), letters
