"""A 200,000-event CSV export streams from a real hub process without its memory growing with the result."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from edge_agent.protocol import Event
from hub.broker import MosquittoBroker
from hub.storage.base import IncomingBatch
from hub.storage.sqlite import SqliteStorage
from tests.support import Hub

pytestmark = pytest.mark.integration

EVENTS = 200_000
PER_BATCH = 1000
MAX_GROWTH_KB = 60 * 1024
START = datetime(2026, 1, 1, tzinfo=UTC)  # one event every 7 s: local (UTC) days 2026-01-01..2026-01-17


def fill(db: Path) -> None:
    """Straight through the storage's ingest, as the hub's worker would, 20 batches per transaction."""
    storage = SqliteStorage(db)
    try:
        for first in range(0, EVENTS, 20 * PER_BATCH):
            batches = []
            for b in range(first, first + 20 * PER_BATCH, PER_BATCH):
                events = [
                    Event(
                        id=f"0190a5e4-7c1d-7abc-8def-{i:012x}",
                        seq=i,
                        ts=START + timedelta(seconds=7 * i),
                        tz="UTC",
                        clock_ok=True,
                        question_id="default",
                        scale=4,
                        value=i % 4,
                        reason="=1+1" if i % 1000 == 0 else None,
                        source="sim",
                        misuse=False,
                    )
                    for i in range(b, b + PER_BATCH)
                ]
                batches.append(IncomingBatch("dev-bulk", "bulk-1", f"batch-{b}", events))
            storage.ingest(batches, [], [], datetime.now(UTC))
    finally:
        storage.close()


def memory_kb(pid: int, field: str) -> int:
    """VmRSS (now) or VmHWM (peak since start) of a process, in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for pid {pid}")


def test_a_200k_event_csv_streams_in_bounded_memory(tmp_path: Path, mosquitto: MosquittoBroker) -> None:
    workdir = tmp_path / "hub"
    workdir.mkdir()
    hub = Hub(workdir, mosquitto.url)
    fill(hub.db)
    hub.start()
    try:
        assert hub.proc is not None
        pid = hub.proc.pid
        assert hub.get("/api/v1/locations")["rows"][0]["location_id"] == "bulk-1"  # warm up the app
        before = memory_kb(pid, "VmRSS")
        peak_sampled = before
        done = threading.Event()

        def sample() -> None:
            nonlocal peak_sampled
            while not done.wait(0.02):
                peak_sampled = max(peak_sampled, memory_kb(pid, "VmRSS"))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        lines = escaped = 0
        header = ""
        params = {"from": "2026-01-01", "to": "2026-01-31", "format": "csv"}
        headers = {"Authorization": f"Bearer {hub.token()}"}
        with httpx.stream("GET", hub.url + "/api/v1/events", params=params, headers=headers, timeout=120) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                header = header or line
                lines += 1
                escaped += line.endswith(",'=1+1,sim,0,")  # reason, source, misuse, survey_version
        done.set()
        sampler.join()
        peak = max(peak_sampled, memory_kb(pid, "VmRSS"))
        assert header.startswith("id,device_id,location_id,seq,ts,local_day,local_hour")
        assert lines == EVENTS + 1  # the header and every event, each exactly once
        assert escaped == EVENTS // 1000
        assert peak - before < MAX_GROWTH_KB, f"hub RSS grew by {(peak - before) // 1024} MB while streaming"
        assert hub.running
    finally:
        hub.stop()
