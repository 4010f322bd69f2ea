"""Scores API latency on a year of a 1,000-store fleet, against Datasette on the same SQLite file.

Three questions, each asked over HTTP of a running ``touchpoint-hub serve`` (rollups) and of
``datasette serve`` (the equivalent raw GROUP BY over ``events``), for a random location each time:

- a year of per-location scores (the leaderboard: every location, one row each);
- one location's year;
- one location's weekday x hour heat map over the year.

The answers are checked to agree (same counted answers) before anything is timed.

Then the same three over a hub on PostgreSQL holding the same rows (copied with COPY, bench.scores_pg),
against the equivalent raw GROUP BY run by that PostgreSQL directly (psycopg, no HTTP in between).
"""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench import growth
from bench.common import ENV, ROOT, HubProcess, Row, Section, free_port, pct, ratio, say, start_broker, wait_until
from bench.payloads import event_json
from bench.pg import BenchPg
from bench.scores_db import Spec, ensure
from bench.scores_pg import ensure_pg

COUNTED = "misuse = 0 AND local_day BETWEEN :from AND :to"
DATASETTE_SQL = {
    "leaderboard": f"SELECT location_id, question_id, scale, value, count(*) AS n FROM events WHERE {COUNTED} "
    "GROUP BY location_id, question_id, scale, value",
    "location": f"SELECT question_id, scale, value, count(*) AS n FROM events WHERE location_id = :loc AND {COUNTED} "
    "GROUP BY question_id, scale, value",
    "heatmap": "SELECT CAST(strftime('%w', local_day) AS INTEGER) AS weekday, local_hour, question_id, scale, value, "
    f"count(*) AS n FROM events WHERE location_id = :loc AND {COUNTED} GROUP BY 1, 2, 3, 4, 5",
}
API_PARAMS = {
    "leaderboard": {"group_by": "location"},
    "location": {"group_by": "location"},
    "heatmap": {"group_by": "weekday_hour"},
}
PG_COUNTED = "misuse = 0 AND local_day BETWEEN %(from)s AND %(to)s"
PG_SQL = {
    "leaderboard": f"SELECT location_id, question_id, scale, value, count(*) AS n FROM events WHERE {PG_COUNTED} "
    "GROUP BY location_id, question_id, scale, value",
    "location": "SELECT question_id, scale, value, count(*) AS n FROM events WHERE location_id = %(loc)s AND "
    f"{PG_COUNTED} GROUP BY question_id, scale, value",
    "heatmap": "SELECT extract(dow FROM local_day::date)::int AS weekday, local_hour, question_id, scale, value, "
    f"count(*) AS n FROM events WHERE location_id = %(loc)s AND {PG_COUNTED} GROUP BY 1, 2, 3, 4, 5",
}
TITLES = {
    "leaderboard": "a year of per-location scores ({locations:,} rows)",
    "location": "one location's year",
    "heatmap": "one location's weekday x hour heat map, a year",
}


class Datasette:
    def __init__(self, db: Path, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.name = db.stem
        args = [str(Path(sys.executable).parent / "datasette"), "serve", str(db), "--port", str(self.port),
                "--setting", "sql_time_limit_ms", "600000", "--setting", "max_returned_rows", "100000"]  # fmt: skip
        self.log = (workdir / "datasette.log").open("ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=ENV, cwd=ROOT)
        wait_until(self._up, 60, "datasette to serve", 0.2)

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError("datasette exited; see datasette.log")
        try:
            return httpx.get(self.url + "/-/versions.json", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)
        self.log.close()


def timed(call: Callable[[], Any], n: int) -> tuple[list[float], Any]:
    samples = []
    last = None
    for _ in range(n):
        start = time.perf_counter()
        last = call()
        samples.append(time.perf_counter() - start)
    return samples, last


def total_n(rows: list[dict[str, Any]]) -> int:
    return sum(int(r["n"]) for r in rows)


def run(workdir: Path, quick: bool, results: Path, pg: BenchPg | None = None) -> Section:
    section = Section("Scores API")
    locations, days = (100, 365) if quick else (1000, 365)
    db = results / f"scores-{locations}x{days}.sqlite"
    spec, reused = ensure(db, locations, days)
    section.details["db"] = {"path": str(db), "events": spec.events, "reused": reused}
    broker = start_broker(workdir)
    hub = HubProcess(workdir / "hub", broker.url, db=db)
    hub.start()
    datasette = Datasette(db, workdir)
    rng = random.Random(5)
    reps_api = {"leaderboard": 10 if quick else 20, "location": 20 if quick else 100, "heatmap": 20 if quick else 100}
    reps_ds = {"leaderboard": 2, "location": 3 if quick else 5, "heatmap": 3 if quick else 5}
    try:
        with (
            httpx.Client(base_url=hub.url, headers=hub.headers(), timeout=120) as api,
            httpx.Client(base_url=datasette.url, timeout=900) as ds,
        ):

            def ask_datasette(kind: str, params: dict[str, str]) -> list[dict[str, Any]]:
                query = {"sql": DATASETTE_SQL[kind], "_shape": "array", **params}
                rows: list[dict[str, Any]] = ds.get(f"/{datasette.name}.json", params=query).raise_for_status().json()
                return rows

            limit = (ask_datasette, "Datasette, raw GROUP BY, p95", "p95 < 50 ms, ≥ 20x Datasette", 20)
            for kind in ("location", "heatmap", "leaderboard"):
                measure(section, kind, spec, api, limit, rng, reps_api[kind], reps_ds[kind], "")
    finally:
        datasette.stop()
        hub.stop()
        broker.stop()
    section.rows.append(growth_row(section.name, "SQLite", growth.sqlite_sizes(db)))
    if pg is not None:
        measure_postgres(section, workdir, db, spec, pg, reps_api, reps_ds)
    return section


def wire_bytes_per_event() -> float:
    """One event as the device sends it (JSON inside a batch of 100), for scale."""
    rng = random.Random(1)
    return statistics.mean(len(event_json(n, 1_790_000_000_000 + n, "Europe/Helsinki", rng, "b" * 36)) + 1
                           for n in range(200))  # fmt: skip


def growth_row(section: str, backend: str, sizes: dict[str, tuple[int, int]]) -> Row:
    """Measured bytes per event and per rollup row, projected to 1,000 stores x a year of the demo's traffic."""
    year = growth.per_year(sizes)
    wire_gb = wire_bytes_per_event() * year["events_per_year"] / 1e9
    per_row = ", ".join(f"{t.removeprefix('rollup_')} {b:.0f} B" for t, b in year["bytes_per_rollup_row"].items())
    return Row(
        section, f"{backend}: database growth, 1,000 locations x 1 year (demo traffic, 300 taps/day)",
        year["total_gb"], "GB", wire_gb, "the same events as JSON on the wire", ratio(year["total_gb"], wire_gb),
        "x wire", "", None,
        f"measured {year['bytes_per_event']:.0f} B per event with its indexes ({year['events_gb']:.1f} GB for "
        f"{year['events_per_year'] / 1e6:.0f} M events) + rollups {year['rollups_gb']:.2f} GB; per rollup row: "
        f"{per_row}",
    )  # fmt: skip


def measure_postgres(
    section: Section, workdir: Path, db: Path, spec: Spec, pg: BenchPg, reps_api: dict[str, int],
    reps_raw: dict[str, int],
) -> None:  # fmt: skip
    """The same questions of a hub on PostgreSQL, against PostgreSQL's own raw GROUP BY."""
    url, reused = ensure_pg(pg, db, spec)
    section.details["pg_db"] = {"url": url, "reused": reused}
    broker = start_broker(workdir / "pg")
    hub = HubProcess(workdir / "pg-hub", broker.url, db=url)
    hub.start()
    rng = random.Random(5)
    try:
        with httpx.Client(base_url=hub.url, headers=hub.headers(), timeout=120) as api, psycopg.connect(url) as conn:

            def ask_raw(kind: str, params: dict[str, str]) -> list[dict[str, Any]]:
                cur = conn.execute(PG_SQL[kind], params)
                names = [d.name for d in cur.description or []]
                return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

            limit = (ask_raw, "PostgreSQL, raw GROUP BY over events (psycopg), p95", "p95 < 50 ms", 0)
            for kind in ("location", "heatmap", "leaderboard"):
                measure(section, kind, spec, api, limit, rng, reps_api[kind], reps_raw[kind], "PostgreSQL: ")
    finally:
        hub.stop()
        broker.stop()
    section.rows.append(growth_row(section.name, "PostgreSQL", growth.postgres_sizes(url)))


Limit = tuple[Callable[[str, dict[str, str]], list[dict[str, Any]]], str, str, int]


def measure(
    section: Section, kind: str, spec: Spec, api: httpx.Client, limit: Limit, rng: random.Random, reps_api: int,
    reps_limit: int, label: str,
) -> None:  # fmt: skip
    """API p95 for ``kind`` against ``limit``: (ask, what it is, target, how many times faster the API must be)."""
    ask_limit, limit_what, target, faster = limit
    period = {"from": spec.first_day, "to": spec.last_day}

    def location() -> str:
        return f"store-{rng.randrange(spec.locations):04d}"

    def ask_api(loc: str | None = None) -> list[dict[str, Any]]:
        params = {**period, **API_PARAMS[kind]}
        if kind != "leaderboard":
            params["location"] = loc or location()
        rows: list[dict[str, Any]] = api.get("/api/v1/scores", params=params).raise_for_status().json()["rows"]
        return rows

    def ask_raw(loc: str | None = None) -> list[dict[str, Any]]:
        params = dict(period)
        if kind != "leaderboard":
            params["loc"] = loc or location()
        return ask_limit(kind, params)

    probe = "store-0003"
    same = total_n(ask_api(probe)) == total_n(ask_raw(probe))  # also warms both up
    api_s, _ = timed(ask_api, reps_api)
    say(f"scores: {label}{kind}: API p95 {pct(api_s, 0.95) * 1000:.1f} ms; asking the raw GROUP BY {reps_limit} times")
    raw_s, _ = timed(ask_raw, reps_limit)
    api95, raw95 = pct(api_s, 0.95) * 1000, pct(raw_s, 0.95) * 1000
    section.details[f"{label}{kind}"] = {
        "api_ms": {"n": len(api_s), "p50": pct(api_s, 0.5) * 1000, "p95": api95},
        "raw_ms": {"n": len(raw_s), "p50": pct(raw_s, 0.5) * 1000, "p95": raw95},
        "answers_agree": same,
    }
    title = TITLES[kind].format(locations=spec.locations)
    section.rows.append(
        Row(section.name, f"{label}Scores API: {title}, p95", api95, "ms", raw95, limit_what,
            ratio(raw95, api95), "x faster", target, api95 < 50 and raw95 >= faster * api95,
            f"{spec.events / 1e6:.2f} M events; n = {len(api_s)} / {len(raw_s)}; answers agree: {same}")
    )  # fmt: skip
