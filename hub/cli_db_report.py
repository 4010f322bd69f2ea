"""How ``touchpoint-hub db copy`` prints its verification: a table of counts, the rollups per location, the verdict."""

from __future__ import annotations

from typing import TextIO

from hub.storage.copy_verify import Verification

SHOWN_LOCATIONS = 50


def print_verification(result: Verification, source: object, target: str, out: TextIO | None = None) -> int:
    """Print the comparison; the exit status: 0 when everything matches, 1 when something differs."""

    def say(line: str = "") -> None:
        print(line, file=out)

    say(f"verification: {source} (source) against {target} (target)")
    say(f"  {'table':<20} {'copied as':<9} {'source rows':>12} {'target rows':>12}")
    for c in result.counts:
        mark = "" if c.source == c.target else "   <- differs"
        say(f"  {c.table:<20} {c.kind.value:<9} {c.source:>12} {c.target:>12}{mark}")
    say("rollups per location (local days with answers, answers counted):")
    for loc in result.locations[:SHOWN_LOCATIONS]:
        same = (loc.source_days, loc.source_answers) == (loc.target_days, loc.target_answers)
        mark = "" if same else "   <- differs"
        say(f"  {loc.location_id:<24} source {loc.source_days:>5} days {loc.source_answers:>10} answers   "
            f"target {loc.target_days:>5} days {loc.target_answers:>10} answers{mark}")  # fmt: skip
    if len(result.locations) > SHOWN_LOCATIONS:
        say(f"  ... and {len(result.locations) - SHOWN_LOCATIONS} more locations (any difference is listed below)")
    if result.ok:
        rows = sum(c.source for c in result.counts)
        say(f"OK: the target matches the source: {len(result.counts)} tables, {rows} rows, every rollup per "
            "location and day")  # fmt: skip
        return 0
    say(f"DIFFERENCES ({len(result.differences)}):")
    for line in result.differences:
        say(f"  - {line}")
    newer = ", ".join(f"{n} {table}" for table, n in result.newer_in_source.items())
    changed = f"the source changed after this copy read it ({newer} rows newer): " if newer else ""
    say(f"{changed}if the SQLite hub is still running, stop it, then run the same command again: it copies only "
        "what is new or changed, and verifies again.")  # fmt: skip
    return 1
