"""Page models of the alert inbox: episodes with their rule, location, inbox state and thread.

They are read with the same storage calls as ``GET /api/v1/alerts`` and ``GET /api/v1/alerts/{id}``
(the region limit included), so the page and the API cannot disagree about an episode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hub.services.alert_inbox import MAX_ASSIGNEE_CHARS, MAX_COMMENT_CHARS, visible_alert
from hub.services.analytics_locations import list_locations
from hub.services.analytics_scope import Scope
from hub.services.errors import InputError
from hub.storage.base import Storage
from hub.storage.base_alerts import AlertEvent, AlertQuery
from hub.storage.base_analytics import LocationRecord
from hub.storage.base_inbox import AlertNote, InboxState

Show = Literal["open", "acknowledged", "all"]
SHOWS: tuple[Show, ...] = ("open", "acknowledged", "all")
PRAISE = "praise"
INBOX_LIMIT = 100


@dataclass(frozen=True)
class Episode:
    """One alert episode as the inbox shows it."""

    alert: AlertEvent
    rule_name: str | None
    kind: str | None  # None once the rule is deleted
    location: LocationRecord | None
    inbox: InboxState
    notes: list[AlertNote]

    @property
    def alert_id(self) -> int:
        return self.alert.alert_id

    @property
    def good_news(self) -> bool:
        """A praise rule's episode: something went well, not wrong."""
        return self.kind == PRAISE

    @property
    def comments(self) -> int:
        return sum(1 for n in self.notes if n.kind == "comment")


@dataclass(frozen=True)
class InboxFilters:
    show: Show = "open"
    assignee: str | None = None
    location: str | None = None

    def query(self) -> dict[str, str]:
        """These filters as the page's query string (for links and for coming back after a change)."""
        given = {"show": self.show, "assignee": self.assignee or "", "location": self.location or ""}
        return {k: v for k, v in given.items() if v}


@dataclass(frozen=True)
class InboxView:
    filters: InboxFilters
    episodes: list[Episode]
    locations: list[LocationRecord]
    limit: int = INBOX_LIMIT


def rule_kinds(storage: Storage) -> dict[int, str]:
    """rule id -> kind, for pages that list episodes without their rules (the location page)."""
    return {r.rule_id: r.spec.kind for r in storage.alert_rules()}


def parse_filters(
    show: str | None, assignee: str | None, location: str | None, locations: list[LocationRecord]
) -> InboxFilters:
    """Unknown values fall back to the defaults; a location outside the viewer's scope is ignored, not widened."""
    picked: Show = next((s for s in SHOWS if s == show), "open")
    who = (assignee or "").strip()[:MAX_ASSIGNEE_CHARS] or None
    where = location if location in {loc.location_id for loc in locations} else None
    return InboxFilters(picked, who, where)


def _episodes(storage: Storage, alerts: list[AlertEvent]) -> list[Episode]:
    rules = {r.rule_id: r for r in storage.alert_rules()}
    ids = [a.alert_id for a in alerts]
    inboxes, notes = storage.alert_inbox(ids), storage.alert_notes(ids)
    places: dict[str, LocationRecord | None] = {}
    out: list[Episode] = []
    for a in alerts:
        rule = rules.get(a.key.rule_id)
        loc_id = a.key.location_id
        if loc_id is not None and loc_id not in places:
            places[loc_id] = storage.location(loc_id)
        out.append(
            Episode(
                alert=a,
                rule_name=None if rule is None else rule.spec.name,
                kind=None if rule is None else rule.spec.kind,
                location=None if loc_id is None else places[loc_id],
                inbox=inboxes.get(a.alert_id, InboxState()),
                notes=notes.get(a.alert_id, []),
            )
        )
    return out


def inbox_view(
    storage: Storage, scope: Scope, show: str | None, assignee: str | None, location: str | None
) -> InboxView:
    """The newest episodes within the viewer's region, filtered as ``GET /api/v1/alerts?inbox=&assignee=`` is."""
    locations = list_locations(storage, scope)
    filters = parse_filters(show, assignee, location, locations)
    inbox = None if filters.show == "all" else filters.show
    query = AlertQuery(
        location_id=filters.location, region=scope.region, limit=INBOX_LIMIT, inbox=inbox, assignee=filters.assignee
    )
    return InboxView(filters, _episodes(storage, storage.alert_history(query)), locations)


def episode(storage: Storage, scope: Scope, alert_id: int) -> Episode:
    """One episode with its thread; NotFound / OutOfScope as for ``GET /api/v1/alerts/{id}``."""
    (row,) = _episodes(storage, [visible_alert(storage, scope, alert_id)])
    return row


def comment_text(form: dict[str, str]) -> str:
    """The comment of a posted form, trimmed; blank or too long is refused with a message naming the field."""
    text = form.get("text", "").strip()
    if not text:
        raise InputError("comment: must not be blank")
    if len(text) > MAX_COMMENT_CHARS:
        raise InputError(f"comment: at most {MAX_COMMENT_CHARS} characters, got {len(text)}")
    return text


def assignee_name(form: dict[str, str]) -> str | None:
    """The assignee of a posted form, trimmed; empty unassigns."""
    name = form.get("assignee", "").strip()
    if len(name) > MAX_ASSIGNEE_CHARS:
        raise InputError(f"assignee: at most {MAX_ASSIGNEE_CHARS} characters, got {len(name)}")
    return name or None
