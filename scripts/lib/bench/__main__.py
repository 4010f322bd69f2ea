"""``scripts/bench``: every benchmark section in turn, then one table (and JSON) of the results.

scripts/bench                 # the full run (under 15 minutes; writes docs/performance.md too)
scripts/bench --quick         # everything small, about 2-3 minutes, for development
scripts/bench --only ingest,fleet
scripts/bench --only broker   # the broker's ceiling: steps the fleet up until a limit (not in the full run)
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pgcluster import PgMissing, find_pg_bin

from bench import ceiling, drain, fleet, ingest, kiosk, latency, report, scores
from bench.common import ROOT, Section, loadavg, say
from bench.pg import BenchPg

SECTIONS = ["ingest", "latency", "drain", "fleet", "kiosk", "scores"]
EXTRA = ["broker"]  # long sections, run only when named in --only


def machine() -> dict[str, Any]:
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    try:
        version = subprocess.run([mosquitto, "-h"], capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        version = "mosquitto (version unknown)"
    version = version.replace("mosquitto version", "Mosquitto")
    return {"cpus": os.cpu_count(), "cpu_model": model, "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "mosquitto": version, "postgresql": postgres_version()}  # fmt: skip


def postgres_version() -> str:
    try:
        out = subprocess.run([str(find_pg_bin() / "postgres"), "--version"], capture_output=True, text=True).stdout
    except (OSError, PgMissing):
        return "PostgreSQL (not installed)"
    return "PostgreSQL " + out.split()[2] if out else "PostgreSQL (version unknown)"


def run_section(name: str, quick: bool, out: Path, done: dict[str, Section], pg: BenchPg | None) -> Section:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        work = Path(tmp)
        try:
            if name == "ingest":
                section = ingest.run(work, quick, pg)
            elif name == "latency":
                section = latency.run(work, quick)
            elif name == "drain":
                section = drain.run(work, quick)
            elif name == "fleet":
                section = fleet.run(work, quick)
            elif name == "broker":
                section = ceiling.run(work, quick)
            elif name == "kiosk":
                bare = done["latency"].details.get("bare_commit") if "latency" in done else None
                section = kiosk.run(out, quick, bare)
            else:
                section = scores.run(work, quick, out, pg)
        except Exception as exc:
            traceback.print_exc()
            section = Section(name, error=f"{type(exc).__name__}: {exc}")
            logs = out / "logs" / name
            logs.mkdir(parents=True, exist_ok=True)
            for log in work.rglob("*.log"):
                shutil.copy(log, logs / f"{log.parent.name}-{log.name}")
    section.seconds = time.monotonic() - started
    say(f"{name}: {section.seconds:.0f} s")
    return section


def main() -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    p = argparse.ArgumentParser(prog="scripts/bench", description=__doc__, formatter_class=formatter)
    p.add_argument("--quick", action="store_true", help="small sizes everywhere; does not touch docs/performance.md")
    p.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated sections of: {', '.join(SECTIONS + EXTRA)}"
    )
    p.add_argument("--out", type=Path, default=ROOT / "bench-results", help="results directory (default bench-results)")
    args = p.parse_args()
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(wanted) - set(SECTIONS + EXTRA)
    if unknown:
        p.error(f"unknown sections: {', '.join(sorted(unknown))}")
    os.environ["TOUCHPOINT_CLOCK_OK"] = "1"  # simulated kiosks have a trusted clock
    args.out.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {**machine(), "mode": "quick" if args.quick else "full", "load_start": loadavg()}
    started = time.monotonic()
    done: dict[str, Section] = {}
    # One PostgreSQL for the run (ingest and scores), its data kept in the results directory for reuse.
    pg = BenchPg(args.out / "pg-data") if {"ingest", "scores"} & set(wanted) else None
    try:
        for name in [s for s in SECTIONS + EXTRA if s in wanted]:
            say(f"--- {name} ---")
            done[name] = run_section(name, args.quick, args.out, done, pg)
    finally:
        if pg is not None:
            pg.stop()
    meta.update(load_end=loadavg(), seconds=time.monotonic() - started,
                finished=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))  # fmt: skip
    sections = list(done.values())
    text = report.markdown(sections, meta)
    stem = "bench-quick" if args.quick else "bench"
    (args.out / f"{stem}.md").write_text(text)
    (args.out / f"{stem}.json").write_text(report.as_json(sections, meta))
    full = not args.quick and wanted == SECTIONS
    if full:
        (ROOT / "docs" / "performance.md").write_text("# Performance\n\n" + text)
    print(text)
    say(f"written: {args.out / (stem + '.md')} and .json" + ("; docs/performance.md" if full else ""))
    return 1 if any(s.error for s in sections) else 0


if __name__ == "__main__":
    sys.exit(main())
