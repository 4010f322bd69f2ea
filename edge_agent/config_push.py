"""The config message the hub pushes to one device, and how the agent stores it.

Topic ``touchpoint/v1/{location_id}/{device_id}/config``, QoS 1, retained, so a
device that connects later (or reconnects after days) still gets its current
survey. Payload ``{"v": 1, "survey_id": "...", "survey": <Survey with version>}``,
or ``"survey": null`` when HQ withdrew it (the device falls back to its file or
bundled survey). An optional ``"actions"`` list carries the location's actions
("You said, we did") as HQ has them; without the key the device keeps the ones
it has; an optional ``"alerts"`` list likewise the location's open alerts
(``edge_agent/alert_inbox.py``). Hub and agent both use this module, so the two sides cannot drift apart.

The agent keeps the survey in the device store's meta table under
:data:`PUSHED_SURVEY_KEY`, where the kiosk and panel read it
(``kiosk/survey_source.py``): the survey JSON, or an empty string once withdrawn.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from edge_agent.actions import replace_hub_actions
from edge_agent.alert_inbox import replace_hub_alerts
from edge_agent.protocol import PROTOCOL_VERSION, Action, Identifier, Invalid, PushedAlert, decode, describe_error
from edge_agent.store import DeviceStore
from edge_agent.survey import Survey

PUSHED_SURVEY_KEY = "pushed_survey"
MAX_CONFIG_BYTES = 256_000
MAX_PUSHED_ACTIONS = 50
MAX_PUSHED_ALERTS = 20

log = logging.getLogger("touchpoint.agent.config")


class ConfigMessage(Struct, frozen=True, kw_only=True):
    """Hub to device. Unknown top-level fields are ignored, so a newer hub may add some."""

    v: Literal[1]
    survey_id: Identifier | None = None
    survey: Survey | None
    actions: (
        Annotated[
            list[Action],
            Meta(max_length=MAX_PUSHED_ACTIONS, description="the location's actions at HQ; absent: keep the device's"),
        ]
        | None
    ) = None
    alerts: (
        Annotated[
            list[PushedAlert],
            Meta(max_length=MAX_PUSHED_ALERTS, description="the location's open alerts; absent: keep the device's"),
        ]
        | None
    ) = None


class ConfigMessageError(ValueError):
    pass


def encode_config(
    survey_id: str | None,
    survey: Survey | None,
    actions: Sequence[Action] | None = None,
    alerts: Sequence[PushedAlert] | None = None,
) -> bytes:
    """The payload the hub publishes; ``survey=None`` withdraws a pushed survey.

    ``actions`` (the location's, newest first, at most :data:`MAX_PUSHED_ACTIONS`) is sent only when given.
    """
    body: dict[str, object] = {
        "v": PROTOCOL_VERSION,
        "survey_id": survey_id if survey is not None else None,
        "survey": survey,
    }
    if actions is not None:
        body["actions"] = list(actions)
    if alerts is not None:
        body["alerts"] = list(alerts)
    return msgspec.json.encode(body)


def parse_config(payload: bytes) -> ConfigMessage:
    """Validate a config payload; ConfigMessageError names the offending field."""
    if len(payload) > MAX_CONFIG_BYTES:
        raise ConfigMessageError(f"payload of {len(payload)} bytes exceeds {MAX_CONFIG_BYTES}")
    try:
        return decode(payload, ConfigMessage)
    except Invalid as exc:
        raise ConfigMessageError(describe_error(exc, limit=5)) from None
    except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, nested too deep
        raise ConfigMessageError(f"payload: malformed JSON: {str(exc)[:200]}") from None


def store_pushed_config(store: DeviceStore, payload: bytes, location_id: str | None = None) -> bool:
    """Apply a config message to the store; True if the pushed survey changed.

    Pushed actions of a location other than ``location_id`` (this device's) are ignored.

    An invalid message is logged and ignored: the previous survey stays, so a
    bad push can never leave a kiosk without a question.
    """
    if not payload:
        return False  # a retained config being cleared by hand: nothing to apply
    try:
        message = parse_config(payload)
    except ConfigMessageError as exc:
        log.error(
            "ignored an invalid config from the hub (%d bytes): %s; keeping the previous survey", len(payload), exc
        )
        return False
    try:
        _apply_actions(store, message, location_id)
        _apply_alerts(store, message, location_id)
        return _apply(store, message)
    except sqlite3.Error as exc:
        # The broker sends the retained config again on the next (re)connect.
        log.error("could not store the pushed config in %s: %s; keeping the previous survey", store.path, exc)
        return False


def _apply(store: DeviceStore, message: ConfigMessage) -> bool:
    previous = store.meta(PUSHED_SURVEY_KEY) or ""
    if message.survey is None:
        if not previous:
            return False
        store.set_meta(PUSHED_SURVEY_KEY, "")
        log.info("hub withdrew the pushed survey; the device falls back to its file or bundled survey")
        return True
    raw = message.survey.to_json()
    name = message.survey_id or "(unnamed)"
    if raw == previous:
        log.debug("survey %s version %d unchanged", name, message.survey.version)
        return False
    store.set_meta(PUSHED_SURVEY_KEY, raw)
    log.info(
        "received survey %s version %d (question %r, %d-point)",
        name, message.survey.version, message.survey.question.id, message.survey.question.scale,
    )  # fmt: skip
    return True


def _apply_actions(store: DeviceStore, message: ConfigMessage, location_id: str | None) -> None:
    if message.actions is None:
        return
    mine = [a for a in message.actions if location_id is None or a.location_id == location_id]
    if len(mine) != len(message.actions):
        log.warning("ignored %d pushed actions of other locations", len(message.actions) - len(mine))
    if replace_hub_actions(store, mine):
        log.info("received the location's actions from the hub: %d in place", len(mine))


def _apply_alerts(store: DeviceStore, message: ConfigMessage, location_id: str | None) -> None:
    """The location's open alerts for the kiosk's manager view (edge_agent/alert_inbox.py)."""
    if message.alerts is None:
        return
    mine = [a for a in message.alerts if location_id is None or a.location_id == location_id]
    if replace_hub_alerts(store, mine):
        log.info("received the location's open alerts from the hub: %d", len(mine))
