"""Leadership over real lock files: one holder at a time, handed over on release or death, lost when replaced."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from hub.services.election import LeaderElection
from hub.services.leadership import FileLockLeader, leadership_for
from tests.support import wait_until


def test_one_holder_at_a_time_and_a_release_hands_it_over(tmp_path: Path) -> None:
    db = str(tmp_path / "hub.sqlite")
    first, second = FileLockLeader.beside(db), FileLockLeader.beside(db)  # two descriptors: flock sees two owners
    assert first.path == tmp_path / "hub.sqlite.leader.lock"
    assert first.try_acquire() and first.try_acquire()  # idempotent
    assert not second.try_acquire() and not second.holds()
    assert first.holds()
    first.release()
    assert not first.holds()
    assert second.try_acquire() and second.holds()
    assert not first.try_acquire()
    second.release()


def test_the_lock_dies_with_its_process(tmp_path: Path) -> None:
    """kill -9 of the holder frees the lock: the kernel drops a dead process's flock."""
    lock = tmp_path / "hub.sqlite.leader.lock"
    script = (
        "import time\nfrom pathlib import Path\nfrom hub.services.leadership import FileLockLeader\n"
        f"lock = FileLockLeader(Path({str(lock)!r}))\nprint(lock.try_acquire(), flush=True)\ntime.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "True"
        mine = FileLockLeader(lock)
        assert not mine.try_acquire()
        holder.kill()
        holder.wait(10)
        assert mine.try_acquire()
        mine.release()
    finally:
        holder.kill()
        holder.wait(10)


def test_a_replaced_lock_file_ends_leadership(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Someone deletes the lock file and another worker locks a new one: the old leader must step down."""
    db = str(tmp_path / "hub.sqlite")
    election = LeaderElection(FileLockLeader.beside(db), retry_s=0.05, worker="hub-a@127.0.0.1:1")
    elected: list[str] = []
    election.on_elected.append(lambda: elected.append("a"))
    caplog.set_level(logging.INFO, logger="touchpoint.hub.leadership")
    election.start()
    try:
        assert election.role == "leader" and election.holds() and elected == ["a"]
        Path(db + ".leader.lock").unlink()
        usurper = FileLockLeader.beside(db)
        assert usurper.try_acquire()
        assert not election.holds()  # asked before the next effect: no wait for the loop
        assert election.role == "follower"
        assert "hub-a@127.0.0.1:1 lost leadership: the lock is no longer held" in caplog.text
        usurper.release()
        wait_until(lambda: election.role == "leader", 5, "the follower to take leadership back")
        assert elected == ["a", "a"] and election.stats.leadership_lost == 1
    finally:
        election.stop()
    assert election.role == "follower" and FileLockLeader.beside(db).try_acquire()  # stop released it


def test_sqlite_gets_a_lock_file_and_postgresql_the_storage_advisory_lock(tmp_path: Path) -> None:
    leader = leadership_for(str(tmp_path / "hub.sqlite"))
    assert isinstance(leader, FileLockLeader) and leader.path == tmp_path / "hub.sqlite.leader.lock"
    try:
        import hub.storage.postgres.leader  # noqa: F401
    except ImportError:
        pytest.skip("the PostgreSQL backend (hub.storage.postgres) is not in this tree")
    pg = leadership_for("postgresql://hub@127.0.0.1:1/touchpoint")
    assert type(pg).__name__ == "PgAdvisoryLeader"
