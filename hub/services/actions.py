"""Actions ("You said, we did") at HQ: who may log or change one, what a valid one is, and its pushed form.

Reading follows the analytics scope (any token, within its region). Writing needs an admin token
(any location) or a region-limited token (locations inside its region); an analyst token without a
region is read-only, as analysts are everywhere else. A reason must be one the location's survey
asks about, so that its effect can be measured on that reason's share.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from edge_agent.protocol import Action, format_ts, is_valid_id
from edge_agent.survey import default_survey, parse_survey
from hub.services.analytics_errors import AnalyticsError, InvalidQuery, NotFound, OutOfScope
from hub.services.analytics_scope import Scope
from hub.services.surveys import Resolver
from hub.storage.base import Storage, TokenInfo
from hub.storage.base_actions import ActionChanges, ActionRecord
from hub.storage.base_analytics import LocationRecord
from hub.storage.base_surveys import DeviceTarget

MAX_TEXT = 300  # as the device's ActionText
MAX_LANGUAGES = 20
LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Z]{2})?")  # as the device's Language: a bad one would void the whole push
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
EDITABLE = frozenset({"text", "texts", "reason", "started_on", "ended_on"})


class Forbidden(AnalyticsError):
    status = 403


@dataclass(frozen=True)
class ActionInput:
    """What the API was given, as JSON values; checked by :func:`create_action` / :func:`update_action`."""

    fields: Mapping[str, object]


# --- access ---------------------------------------------------------------------------


def can_write(token: TokenInfo, location: LocationRecord) -> None:
    """Admins anywhere; a region-limited token inside its region; nobody else (403 naming why)."""
    if token.role == "admin":
        return
    if not token.region:
        raise Forbidden("logging or changing actions needs an admin token or a region-limited token")
    Scope.of(token).check(location)


def _location(storage: Storage, location_id: object) -> LocationRecord:
    if not isinstance(location_id, str) or not is_valid_id(location_id):
        raise InvalidQuery(f"location_id: expected a location id like 'store-1' (got {location_id!r})")
    record = storage.location(location_id)
    if record is None:
        raise InvalidQuery(f"location_id: no location {location_id!r} (register it, or let its kiosks report)")
    return record


def readable(storage: Storage, scope: Scope, action_id: str) -> tuple[ActionRecord, LocationRecord]:
    """The action and its location if this scope may see it; 404 otherwise (403 outside the region)."""
    action = storage.action(action_id)
    if action is None:
        raise NotFound(f"no action {action_id!r}")
    location = storage.location(action.location_id)
    if location is None:  # an action a kiosk sent before its location was known: fleet-wide scopes only
        if scope.region is not None:
            raise OutOfScope(f"action {action_id!r} is outside this token's region {scope.region!r}")
        return action, LocationRecord(action.location_id, None, None, "UTC", "events", None, "", None)
    scope.check(location)
    return action, location


def list_for(storage: Storage, scope: Scope, location_id: str | None) -> list[ActionRecord]:
    """Actions of one location (checked against the scope) or of every location the scope covers."""
    if location_id is not None:
        if not is_valid_id(location_id):
            raise InvalidQuery(f"location: expected a location id like 'store-1' (got {location_id!r})")
        record = storage.location(location_id)
        if record is not None:
            scope.check(record)
        elif scope.region is not None:  # unknown here, so in no region
            raise NotFound(f"location: no location {location_id!r} in this token's region {scope.region!r}")
        return storage.list_actions([location_id])
    if scope.region is None:
        return storage.list_actions()
    return storage.list_actions([r.location_id for r in storage.location_records(scope.region)])


# --- validation -------------------------------------------------------------------------


def survey_reasons(storage: Storage, location: LocationRecord) -> list[str]:
    """The follow-up reason ids the location's kiosks ask about (its survey, or the bundled default)."""
    resolver = Resolver(storage.assignments(), storage.latest_surveys())
    stored = resolver.effective(DeviceTarget("", location.location_id, location.region)).survey
    survey = default_survey() if stored is None else parse_survey(stored.body)
    follow_up = survey.question.follow_up
    return [] if follow_up is None else [r.id for r in follow_up.reasons]


def _text(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidQuery(f"{field}: expected text (got {type(value).__name__})")
    text = value.strip()
    try:
        text.encode()
    except UnicodeEncodeError:
        raise InvalidQuery(f"{field}: not valid Unicode text (a lone surrogate)") from None
    if not text:
        raise InvalidQuery(f"{field}: must not be empty")
    if len(text) > MAX_TEXT:
        raise InvalidQuery(f"{field}: at most {MAX_TEXT} characters (got {len(text)})")
    return text


def _texts(value: object) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidQuery('texts: expected an object of texts per language, like {"fi": "..."}')
    if len(value) > MAX_LANGUAGES:
        raise InvalidQuery(f"texts: at most {MAX_LANGUAGES} languages")
    out = {}
    for lang, text in value.items():
        if not LANGUAGE.fullmatch(lang):
            raise InvalidQuery(f"texts: {lang!r} is not a language code like 'fi' or 'pt-BR'")
        out[lang] = _text(text, f"texts.{lang}")
    return out or None


def _day(value: object, field: str, nullable: bool) -> date | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise InvalidQuery(f"{field}: expected a date YYYY-MM-DD (got {value!r})")
    try:
        day = date.fromisoformat(value) if len(value) == 10 else _bad_day(field, value)
    except ValueError:
        return _bad_day(field, value)
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidQuery(f"{field}: {day} is not between {FIRST_DAY} and {LAST_DAY}")
    return day


def _bad_day(field: str, value: str) -> date:
    raise InvalidQuery(f"{field}: expected a date YYYY-MM-DD (got {value!r})")


def _reason(storage: Storage, location: LocationRecord, value: object) -> str | None:
    if value is None:
        return None
    known = survey_reasons(storage, location)
    if value not in known:
        listed = ", ".join(known) or "none: its survey asks no follow-up"
        raise InvalidQuery(f"reason: {value!r} is not a reason of {location.location_id}'s survey ({listed})")
    return str(value)


def _unknown(fields: Mapping[str, object], allowed: set[str]) -> None:
    extra = sorted(set(fields) - allowed)
    if extra:
        raise InvalidQuery(f"{extra[0]}: is not a known field (expected {', '.join(sorted(allowed))})")


def _check_dates(started: date, ended: date | None) -> None:
    if ended is not None and ended < started:
        raise InvalidQuery(f"ended_on: {ended} is before started_on {started}")


# --- writes -----------------------------------------------------------------------------


def create_action(storage: Storage, token: TokenInfo, given: ActionInput, now: datetime) -> ActionRecord:
    f = given.fields
    _unknown(f, {"location_id", *EDITABLE})
    if "location_id" not in f:
        raise InvalidQuery("location_id: required")
    location = _location(storage, f["location_id"])
    can_write(token, location)
    if "text" not in f:
        raise InvalidQuery("text: required")
    if "started_on" not in f:
        raise InvalidQuery("started_on: required (the local date it started, YYYY-MM-DD)")
    started = _day(f["started_on"], "started_on", nullable=False)
    assert started is not None
    ended = _day(f.get("ended_on"), "ended_on", nullable=True)
    _check_dates(started, ended)
    stamp = format_ts(now)
    record = ActionRecord(
        id=str(uuid.uuid4()), location_id=location.location_id, text=_text(f["text"], "text"),
        texts=_texts(f.get("texts")), reason=_reason(storage, location, f.get("reason")), started_on=started,
        ended_on=ended, logged_by=token.name[:100] or f"token {token.token_id}", device_id=None,
        created_at=stamp, updated_at=stamp,
    )  # fmt: skip
    if not storage.create_action(record):
        raise InvalidQuery("id: a UUID collision; try again")
    return record


def update_action(
    storage: Storage, token: TokenInfo, action_id: str, given: ActionInput, now: datetime
) -> ActionRecord:
    f = given.fields
    _unknown(f, set(EDITABLE))
    action, location = readable(storage, Scope.of(token), action_id)
    can_write(token, location)
    started = _day(f["started_on"], "started_on", nullable=False) if "started_on" in f else action.started_on
    ended = _day(f["ended_on"], "ended_on", nullable=True) if "ended_on" in f else action.ended_on
    assert started is not None
    _check_dates(started, ended)
    changes = ActionChanges(
        given=frozenset(f),
        text=_text(f["text"], "text") if "text" in f else None,
        texts=_texts(f.get("texts")),
        reason=_reason(storage, location, f.get("reason")),
        started_on=started,
        ended_on=ended,
    )
    changed = storage.update_action(action_id, changes, now)
    if changed is None:
        raise NotFound(f"no action {action_id!r}")
    return changed


def delete_action(storage: Storage, token: TokenInfo, action_id: str, now: datetime) -> None:
    _, location = readable(storage, Scope.of(token), action_id)
    can_write(token, location)
    if not storage.delete_action(action_id, now):
        raise NotFound(f"no action {action_id!r}")


# --- the device's form ------------------------------------------------------------------


def to_protocol(record: ActionRecord) -> Action:
    """The action as a kiosk stores it (sent in the pushed config)."""
    return Action(
        id=record.id, location_id=record.location_id, text=record.text, texts=record.texts, reason=record.reason,
        started_on=record.started_on, ended_on=record.ended_on, logged_by=record.logged_by,
        created_at=datetime.fromisoformat(record.created_at),
    )  # fmt: skip


def overlapping(actions: list[ActionRecord], first: date, last: date, but: str) -> list[str]:
    """Locations with an action (other than ``but``) in place at some point between ``first`` and ``last``."""
    return sorted(
        {
            a.location_id
            for a in actions
            if a.id != but and a.started_on <= last and (a.ended_on is None or a.ended_on >= first)
        }
    )
