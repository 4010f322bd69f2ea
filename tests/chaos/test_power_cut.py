"""Power-cut test: kill -9 the recording process at random moments, 500 times, on one store file.

A forked child records taps in a loop and writes each id to a pipe once ``record()`` has returned
(the moment the kiosk would thank the shopper). The parent kills it with SIGKILL after a random
delay: sometimes while it opens or creates the store, mostly in the middle of a tap. After each
kill: ``PRAGMA integrity_check`` is ok, every reported id is in the store, and the daily counts
equal the events (they are written in one transaction). Half way through, the real agent starts
syncing beside the killings; at the end the hub holds every tap exactly once.

SIGKILL stops the process at any instruction, which is what a power cut does to the program. What it
cannot show is the disk losing writes that were not yet flushed; ``synchronous=FULL`` (fsync on every
commit) is what covers that, and it is checked in tests/edge_agent/test_store.py.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from edge_agent.config import load_config
from edge_agent.store import DeviceStore
from tests.conftest import AgentFactory
from tests.integration.test_exactly_once import assert_exact
from tests.support import Hub

pytestmark = pytest.mark.integration
KILLS = int(os.environ.get("TOUCHPOINT_POWER_CUTS", "500"))
REASONS = [None, None, "queue", "staff"]


def _record_until_killed(path: Path, tz: str, out: int, seed: int) -> None:
    """The child: the same DeviceStore.record() the kiosk uses, as fast as it can."""
    try:
        rng = random.Random(seed)
        store = DeviceStore(path, tz)
        while True:
            value = rng.randrange(4)
            event = store.record(
                value, "default", 4, source="sim", misuse=rng.random() < 0.05, reason=rng.choice(REASONS)
            )
            os.write(out, event.id.encode() + b"\n")  # < PIPE_BUF: all of it or nothing
    finally:
        os._exit(0)


def _kill_mid_tap(path: Path, tz: str, rng: random.Random) -> list[str]:
    """One power cut; the ids whose record() returned before it."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _record_until_killed(path, tz, write_end, rng.randrange(2**32))
    os.close(write_end)
    time.sleep(rng.uniform(0, 0.04))
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    data = b""
    while chunk := os.read(read_end, 65536):
        data += chunk
    os.close(read_end)
    return [line.decode() for line in data.split(b"\n") if len(line) == 36]


def _check_store(path: Path, returned: set[str]) -> None:
    conn = sqlite3.connect(str(path), timeout=30)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        if not returned:
            return
        stored = {r[0] for r in conn.execute("SELECT id FROM events")}
        missing = returned - stored
        assert not missing, f"{len(missing)} taps whose record() returned are gone, e.g. {sorted(missing)[:3]}"
        events = conn.execute(
            "SELECT local_day, local_hour, question_id, scale, value, COUNT(*) FROM events WHERE misuse = 0 "
            "GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5"
        ).fetchall()
        counts = conn.execute("SELECT * FROM daily_counts WHERE count > 0 ORDER BY 1, 2, 3, 4, 5").fetchall()
        assert events == counts, "daily_counts drifted from the events: a tap was half written"
    finally:
        conn.close()


def test_kill_9_while_recording_500_times_then_sync_exactly_once(hub: Hub, make_agent: AgentFactory) -> None:
    agent, config_path = make_agent("dev-pc", "store-pc", "Europe/Helsinki", batch_size=20, max_inflight_batches=2)
    config = load_config(config_path)
    rng = random.Random(20261122)
    returned: set[str] = set()
    started = time.monotonic()
    for i in range(KILLS):
        if i == KILLS // 2:
            agent.start()  # from here on the agent syncs while the recorder keeps dying
        returned.update(_kill_mid_tap(config.store.path, config.timezone, rng))
        _check_store(config.store.path, returned)
    elapsed = time.monotonic() - started
    assert len(returned) > KILLS, f"only {len(returned)} taps in {KILLS} runs: the kills landed too early"
    print(f"{KILLS} power cuts in {elapsed:.1f} s, {len(returned)} taps returned, all present")
    with DeviceStore(config.store.path, config.timezone) as store:  # and the store still takes taps
        store.record(3, "default", 4, source="sim")
    assert_exact(hub, [("store-pc", config_path)])
