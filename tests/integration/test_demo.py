"""The README's first promise: ``scripts/demo`` runs the whole system, and stops all of it.

The demo is started through ``scripts/demo`` itself (with this test run's venv), so the command line
is the user's. ``.ci/demo-smoke`` runs the same command with a brand-new venv on every submission.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def start_demo(data: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "TOUCHPOINT_VENV": sys.prefix}
    return subprocess.Popen(
        [str(ROOT / "scripts/demo"), "--port", "0", "--data-dir", str(data), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env,
    )  # fmt: skip


def read_until(stream: IO[str], pattern: str, seen: list[str], timeout: float = 240) -> re.Match[str]:
    """Lines until one matches; the demo prints as it goes, so a missing line means a stuck demo."""
    deadline = time.monotonic() + timeout
    for line in stream:
        seen.append(line)
        if match := re.search(pattern, line):
            return match
        assert time.monotonic() < deadline, f"no line matching {pattern!r} in time:\n" + "".join(seen)
    raise AssertionError(f"the demo ended without a line matching {pattern!r}:\n" + "".join(seen))


def read_each(stream: IO[str], patterns: list[str], seen: list[str], timeout: float = 90) -> dict[str, str]:
    """Lines until each pattern has matched one, in any order: the demo's threads print as things happen."""
    found: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    for line in stream:
        seen.append(line)
        found |= {p: line for p in patterns if p not in found and re.search(p, line)}
        if len(found) == len(patterns):
            return found
        assert time.monotonic() < deadline, f"no lines matching {set(patterns) - set(found)} in time:\n" + "".join(seen)
    raise AssertionError(f"the demo ended without lines matching {set(patterns) - set(found)}:\n" + "".join(seen))


def processes_naming(path: Path) -> list[str]:
    """Command lines of live processes that mention ``path``: the demo names its data dir in each child's."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue  # gone meanwhile
        if any(str(path) in arg for arg in args):
            found.append(" ".join(args))
    return found


def stop_and_check(demo: subprocess.Popen[str], sig: signal.Signals, data: Path, seen: list[str]) -> str:
    demo.send_signal(sig)
    rest, _ = demo.communicate(timeout=60)
    output = "".join(seen) + rest
    assert demo.returncode == 0, output
    assert f"{sig.name}: stopping" in rest and "stopped everything" in rest, output
    assert processes_naming(data) == [], output
    return output


def test_demo_prints_a_curl_line_that_returns_scores_fires_alerts_and_sigterm_stops_everything(
    tmp_path: Path,
) -> None:
    data = tmp_path / "demo"
    demo = start_demo(data, "--duration", "120", "--outage-after-s", "0", "--outage-s", "15")
    assert demo.stdout is not None
    seen: list[str] = []
    webhooks = read_until(demo.stdout, r"webhooks: +(\S+)", seen)
    curl_line = read_until(demo.stdout, r"try: +(curl .*)$", seen).group(1)
    rows = json.loads(subprocess.run(shlex.split(curl_line), capture_output=True, text=True, check=True).stdout)["rows"]
    assert len(rows) == 3 and all(r["n"] > 0 and r["happy_index"] is not None for r in rows), rows
    move = read_until(demo.stdout, r"to move this hub to PostgreSQL: (\S+) db copy --from (\S+) --to postgres", seen)
    assert Path(move.group(1)).name == "touchpoint-hub" and move.group(2) == str(data / "hub.sqlite"), move.group(0)
    synced = re.search(r"history synced: (\d+) of (\d+) taps", "".join(seen))
    assert synced and synced.group(1) == synced.group(2) and int(synced.group(1)) > 3 * 56 * 200, "".join(seen)
    check_closed_loop(data, "".join(seen))

    # New York's queue: the shift rule and HappyOrNot's rule fire and post to the local receiver.
    # Meanwhile the last store's link drops at once and comes back after 15 s; either may come first.
    shift, happyornot = r"\[webhook\] .*Rise in negative answers", r"\[webhook\] .*Many negative answers"
    outage = [r"devices online: 2 of 3", r"tokyo-shibuya/kiosk-3 is back online"]
    lines = read_each(demo.stdout, [shift, happyornot, *outage], seen)
    assert "(new-york-5th)" in lines[shift] and "(new-york-5th)" in lines[happyornot], lines
    delivered = [json.loads(line) for line in (data / "webhooks.jsonl").read_text().splitlines()]
    assert {d["alert"]["location_id"] for d in delivered if "alert" in d} >= {"new-york-5th"}, delivered
    assert webhooks.group(1).startswith("http://127.0.0.1:")
    read_until(demo.stdout, r"devices online: 3 of 3", seen, timeout=60)  # then everything is counted
    stop_and_check(demo, signal.SIGTERM, data, seen)


def check_closed_loop(data: Path, output: str) -> None:
    """Helsinki's action and its measured effect, its forecast and digest, and Tokyo's kiosk action at the hub."""
    effect = re.search(r"action: +helsinki-central: .* effect: (improved|no detectable change|worse)", output)
    assert effect and effect.group(1) == "improved", output  # its lunch queue went away four weeks ago
    assert re.search(r"forecast: +helsinki-central \d{4}-\d\d-\d\d: \d+ answers \(80%: \d+-\d+\)", output), output
    html = data / "digest-helsinki-central.html"
    assert f"open {html}" in output and "helsinki-central" in html.read_text(), output
    digests = [json.loads(line) for line in (data / "webhooks.jsonl").read_text().splitlines()]
    assert [d["digest"]["target"]["id"] for d in digests if "digest" in d] == ["helsinki-central"], digests
    kiosk = re.search(r"kiosk: +tokyo-shibuya's manager logged .* over MQTT: (curl .*)$", output, re.MULTILINE)
    assert kiosk, output
    deadline = time.monotonic() + 30
    while True:  # the agent sends the kiosk's action beside its history
        out = subprocess.run(shlex.split(kiosk.group(1)), capture_output=True, text=True, check=True).stdout
        rows = json.loads(out)["rows"]
        if rows or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert [(r["text"], r["logged_by"]) for r in rows] == [("We clean the entrance every hour.", "manager@kiosk-3")]


def test_ctrl_c_while_history_syncs_stops_everything(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    demo = start_demo(data)
    assert demo.stdout is not None
    seen: list[str] = []
    read_until(demo.stdout, r"syncing \d+ taps of history", seen)
    output = stop_and_check(demo, signal.SIGINT, data, seen)
    assert "try:" not in output  # it really was stopped mid-start-up


def alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it has exited)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def postgres_processes(pg_dir: Path) -> set[int]:
    """The demo's PostgreSQL server: its postmaster (first line of postmaster.pid) and that process's children."""
    postmaster = int((pg_dir / "postmaster.pid").read_text().split()[0])
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster:  # field 4 of stat, the parent's pid
            children.add(int(stat.parent.name))
    return {postmaster, *children}


def test_demo_on_postgres_runs_two_workers_with_one_leader_and_sigterm_stops_postgres_too(pg_datadir: Path) -> None:
    data = pg_datadir  # outside pytest's tmp_path, which a root PostgreSQL's own user must be able to reach
    demo = start_demo(data, "--postgres", "--duration", "30", "--history-days", "7")
    assert demo.stdout is not None
    seen: list[str] = []
    url = read_until(demo.stdout, r"database: PostgreSQL \S+ at (postgresql://\S+)", seen).group(1)
    curl_line = read_until(demo.stdout, r"try: +(curl .*)$", seen).group(1)
    workers = [read_until(demo.stdout, r"worker (hub-\d): dashboard (\S+)/ +API (\S+) +\((leader|follower);", seen)
               for _ in range(2)]  # fmt: skip
    server = postgres_processes(data / "postgres")
    assert len(server) > 3, server  # the postmaster and its background processes

    rows = json.loads(subprocess.run(shlex.split(curl_line), capture_output=True, text=True, check=True).stdout)["rows"]
    assert len(rows) == 3 and all(r["n"] > 0 for r in rows), rows
    synced = re.search(r"history synced: (\d+) of (\d+) taps", "".join(seen))
    assert synced and synced.group(1) == synced.group(2), "".join(seen)
    assert url.startswith("postgresql://") and str(data / "postgres") in "".join(seen)
    roles = {}
    for w in workers:
        health = json.loads(subprocess.run(["curl", "-s", w.group(3) + "/healthz"], capture_output=True, text=True,
                                           check=True).stdout)  # fmt: skip
        assert health["backend"] == "postgresql" and health["mqtt_connected"], health
        assert w.group(2) == w.group(3)
        roles[w.group(1)] = health["role"]
        assert health["role"] == w.group(4), (health, w.group(0))
    assert sorted(roles.values()) == ["follower", "leader"], roles
    assert len({w.group(3) for w in workers}) == 2

    stop_and_check(demo, signal.SIGTERM, data, seen)
    deadline = time.monotonic() + 10  # pg_ctl stop -w returns when the pid file is gone; the exits follow
    while (left := [pid for pid in server if alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left == [], left
    assert not (data / "postgres" / "postmaster.pid").exists()
