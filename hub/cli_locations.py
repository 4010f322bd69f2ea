"""``touchpoint-hub location add|list|update``: register and edit locations from a shell on the hub.

The same models and services as ``/api/v1/locations``, so a field is valid
here exactly when it is valid in the API. Errors name the option to fix.
"""

from __future__ import annotations

import argparse
import json
import sys

from pydantic import ValidationError

from hub.services.analytics_errors import AnalyticsError
from hub.services.analytics_fields import WEEKDAYS, check_region
from hub.services.analytics_locations import LocationCreate, LocationUpdate, register_location, update_location
from hub.storage.base_analytics import LocationRecord, OpeningHours

EXAMPLES = """examples:
  touchpoint-hub location add --db hub.sqlite --id helsinki-central --name "Helsinki Central" \\
      --region nordics/helsinki --timezone Europe/Helsinki --hours mon-fri=08:00-21:00,sat=10:00-18:00
  touchpoint-hub location list --db hub.sqlite --region nordics
  touchpoint-hub location update --db hub.sqlite helsinki-central --region nordics/espoo --clear-hours

A region is a path of lower-case segments (a-z, 0-9, _ and -) joined by '/'; an analyst token
limited to "nordics" sees every location under it. A location first seen from its devices' events
is listed with zone source "events" until you register it with `location add`.
"""
_OPTIONS = {
    "location_id": "--id",
    "name": "--name",
    "timezone": "--timezone",
    "region": "--region",
    "opening_hours": "--hours",
}
_UPDATABLE = ("name", "timezone", "region")
NOTHING_TO_CHANGE = "nothing to change: give --name, --timezone, --region/--clear-region or --hours/--clear-hours"


def add_location_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``location add | list | update``, under the main parser's sub-commands."""
    location = sub.add_parser(
        "location",
        help="register, list or update locations: region, time zone, opening hours",
        description="Register and edit the locations HQ reports on.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = location.add_subparsers(dest="location_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="register a location, or take over one first seen from events")
    add.add_argument("--db", required=True, help="the hub's SQLite file or postgresql:// URL")
    add.add_argument("--id", dest="location_id", required=True, help="the id the devices use, [A-Za-z0-9_-]")
    add.add_argument("--name", required=True, help="a display name, e.g. 'Helsinki Central'")
    add.add_argument("--timezone", required=True, help="IANA zone for the local days, e.g. Europe/Helsinki")
    add.add_argument("--region", help="region path, e.g. nordics/helsinki")
    add.add_argument("--hours", help="opening hours, e.g. mon-fri=08:00-21:00,sat=10:00-18:00 (other days closed)")

    listing = actions.add_parser("list", help="list locations, registered or first seen from events")
    listing.add_argument("--db", required=True, help="the hub's SQLite file or postgresql:// URL")
    listing.add_argument("--region", help="only this region subtree")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")

    update = actions.add_parser("update", help="change a registered location; only the options given change")
    update.add_argument("location_id", metavar="ID", help="the location to change")
    update.add_argument("--db", required=True, help="the hub's SQLite file or postgresql:// URL")
    update.add_argument("--name")
    update.add_argument("--timezone", help="a new zone applies to events ingested from now on")
    region = update.add_mutually_exclusive_group()
    region.add_argument("--region")
    region.add_argument("--clear-region", action="store_true", help="remove the location from every region")
    hours = update.add_mutually_exclusive_group()
    hours.add_argument("--hours", help="replaces all opening hours, e.g. mon-sat=09:00-20:00")
    hours.add_argument("--clear-hours", action="store_true", help="forget the opening hours")


def parse_hours(text: str) -> OpeningHours:
    """``mon-fri=08:00-21:00,sat=10:00-18:00`` -> ``{"mon": ["08:00", "21:00"], ...}``; times are checked later."""
    hours: OpeningHours = {}
    for part in (p.strip() for p in text.split(",")):
        days, equals, span = part.partition("=")
        opens, dash, closes = span.partition("-")
        if not equals or not dash:
            raise ValueError(f"{part!r} is not DAYS=HH:MM-HH:MM, like mon-fri=08:00-21:00")
        first, _, last = days.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise ValueError(f"{days!r}: days are {', '.join(WEEKDAYS)}, or a range such as mon-fri")
        start, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        if end < start:
            raise ValueError(f"{days!r}: a range runs forward through the week, like mon-fri")
        for day in WEEKDAYS[start : end + 1]:
            hours[day] = [opens, closes]
    return hours


def region_problem(path: str) -> str | None:
    """Why ``path`` is not a region path, or None (for ``token create --region``)."""
    try:
        check_region(path)
    except ValueError as exc:
        return str(exc)
    return None


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{_OPTIONS[field]}: {msg}" if field in _OPTIONS else msg)
    return "; ".join(parts)


def _line(record: LocationRecord) -> str:
    hours = " ".join(f"{day} {o}-{c}" for day, (o, c) in (record.opening_hours or {}).items()) or "-"
    fields = [record.location_id, record.name or "-", record.region or "-", record.timezone, record.timezone_source]
    return "\t".join([*fields, hours])


def _body(args: argparse.Namespace) -> dict[str, object]:
    body: dict[str, object] = {}
    fields = ("location_id", "name", "timezone", "region") if args.location_command == "add" else _UPDATABLE
    for name in fields:
        if getattr(args, name, None) is not None:
            body[name] = getattr(args, name)
    if args.hours is not None:
        body["opening_hours"] = parse_hours(args.hours)
    if getattr(args, "clear_region", False):
        body["region"] = None
    if getattr(args, "clear_hours", False):
        body["opening_hours"] = None
    return body


def run_location(args: argparse.Namespace) -> int:
    from hub.storage import open_storage

    create = update = None
    try:
        if args.location_command == "list" and args.region is not None:
            check_region(args.region)
        if args.location_command == "add":
            create = LocationCreate.model_validate(_body(args))
        elif args.location_command == "update":
            body = _body(args)
            if not body:
                raise ValueError(NOTHING_TO_CHANGE)
            update = LocationUpdate.model_validate(body)
    except ValidationError as exc:
        print(f"error: {_describe(exc)}", file=sys.stderr)
        return 2
    except ValueError as exc:
        option = (
            "" if str(exc) == NOTHING_TO_CHANGE else ("--region: " if args.location_command == "list" else "--hours: ")
        )
        print(f"error: {option}{exc}", file=sys.stderr)
        return 2
    storage = open_storage(args.db)
    try:
        if create is not None:
            before = storage.location(create.location_id)
            record = register_location(storage, create)
            taken = f" (first seen from events, zone was {before.timezone})" if before else ""
            print(f"registered location {record.location_id}{taken}:\n{_line(record)}")
        elif update is not None:
            record = update_location(storage, args.location_id, update)
            print(f"updated location {record.location_id}:\n{_line(record)}")
        else:
            for record in storage.location_records(args.region):
                print(json.dumps(record.as_dict()) if args.json else _line(record))
    except AnalyticsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        storage.close()
    return 0
