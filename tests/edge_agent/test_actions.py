"""Actions in the device store: logged here (pending until acked) or pushed by HQ; the idle screen's list."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import msgspec
import pytest

from edge_agent.actions import (
    PENDING,
    REJECTED,
    SYNCED,
    action_counts,
    latest_actions,
    log_action,
    mark_actions_rejected,
    mark_actions_synced,
    pending_actions,
    replace_hub_actions,
)
from edge_agent.config_push import encode_config, store_pushed_config
from edge_agent.protocol import Action, ActionBatch, decode
from edge_agent.store import DeviceStore, StoreError

HELSINKI = "Europe/Helsinki"
T0 = datetime(2026, 11, 22, 21, 30, tzinfo=UTC)  # 23:30 in Helsinki: still the 22nd there


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DeviceStore]:
    with DeviceStore(tmp_path / "device.sqlite", HELSINKI) as s:
        yield s


def log(store: DeviceStore, text: str = "We opened a second till at lunch.", **kwargs: object) -> Action:
    args: dict[str, object] = {"location_id": "store-1", "logged_by": "manager@kiosk-1", "now": T0, **kwargs}
    return log_action(store, text, **args)  # type: ignore[arg-type]


def hub_action(action_id: str, text: str, started_on: str = "2026-11-01", **more: object) -> Action:
    body = {
        "id": action_id, "location_id": "store-1", "text": text, "started_on": started_on,
        "logged_by": "analyst@hq", "created_at": "2026-11-01T08:00:00Z", **more,
    }  # fmt: skip
    return msgspec.convert(body, Action)


def test_a_logged_action_is_durable_pending_and_valid_on_the_wire(store: DeviceStore, tmp_path: Path) -> None:
    action = log(store, reason="queue", texts={"fi": "Avasimme toisen kassan."})
    assert action.started_on == date(2026, 11, 22)  # the store's local day, not UTC's
    assert action.created_at == T0 and action.reason == "queue"
    with DeviceStore(tmp_path / "device.sqlite", HELSINKI) as other:  # another process sees it at once
        assert pending_actions(other) == [action]
    batch = ActionBatch(1, "kiosk-1", "store-1", "b-1", [action])
    assert decode(msgspec.json.encode(batch), ActionBatch) == batch  # what is stored is what the hub accepts
    assert action.text_in("fi") == "Avasimme toisen kassan." and action.text_in("sv") == action.text


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"text": ""}, "text"),
        ({"text": "x" * 301}, "text"),
        ({"reason": "no spaces please"}, "reason"),
        ({"location_id": "a/b"}, "location_id"),
        ({"texts": {"Finnish": "Kiitos"}}, "texts"),
        ({"ended_on": date(2026, 11, 1)}, "ended_on"),
        ({"logged_by": ""}, "logged_by"),
    ],
)
def test_a_bad_action_is_refused_naming_the_field(store: DeviceStore, kwargs: dict[str, object], error: str) -> None:
    with pytest.raises(ValueError, match=rf"action not logged: .*{error}"):
        log(store, **kwargs)  # type: ignore[arg-type]
    assert action_counts(store) == {}


def test_a_store_that_refuses_writes_raises_store_error(store: DeviceStore) -> None:
    store.db.execute("CREATE TRIGGER refuse BEFORE INSERT ON actions BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END")
    with pytest.raises(StoreError, match="action not stored"):
        log(store)


def test_only_the_hubs_ack_moves_an_action_on_and_rejected_ones_are_kept(store: DeviceStore) -> None:
    a, b, c = log(store, "One."), log(store, "Two."), log(store, "Three.")
    assert [x.id for x in pending_actions(store)] == [a.id, b.id, c.id]
    assert mark_actions_synced(store, [a.id, "not-ours"]) == 1
    assert mark_actions_synced(store, [a.id]) == 0  # an ack repeated is harmless
    assert mark_actions_rejected(store, [(b.id, "text: too long")]) == 1
    assert pending_actions(store) == [c]
    assert action_counts(store) == {PENDING: 1, SYNCED: 1, REJECTED: 1}
    row = store.db.execute("SELECT sync_error FROM actions WHERE id = ?", (b.id,)).fetchone()
    assert row == ("text: too long",)
    assert [x.id for x in latest_actions(store, 5, today=date(2026, 11, 22))] == [c.id, a.id]  # not the rejected


def test_latest_actions_are_those_in_place_today_newest_first(store: DeviceStore) -> None:
    ended = log(store, "Ended.", started_on=date(2026, 11, 1), ended_on=date(2026, 11, 10))
    old = log(store, "Old.", started_on=date(2026, 11, 2))
    ends_today = log(store, "Ends today.", started_on=date(2026, 11, 5), ended_on=date(2026, 11, 22))
    future = log(store, "Next week.", started_on=date(2026, 11, 29))
    new = log(store, "New.")
    today = date(2026, 11, 22)
    assert latest_actions(store, 5, today=today) == [new, ends_today, old]
    assert latest_actions(store, 2, today=today) == [new, ends_today]
    assert ended not in latest_actions(store, 5, today=date(2026, 11, 11))
    assert future in latest_actions(store, 5, today=date(2026, 11, 29))


def test_the_hubs_list_replaces_what_it_has_and_keeps_what_is_on_its_way(store: DeviceStore) -> None:
    on_its_way = log(store, "Logged here, not acked yet.")
    acked = log(store, "Logged here and acked.")
    mark_actions_synced(store, [acked.id])
    first = hub_action("0190f0f0-0000-7000-8000-000000000001", "Logged at HQ.", reason="queue")
    assert replace_hub_actions(store, [first, acked]) is True
    assert replace_hub_actions(store, [first, acked]) is False  # the same list again changes nothing
    assert {a.id for a in latest_actions(store, 9, today=date(2026, 11, 22))} == {on_its_way.id, acked.id, first.id}

    edited = msgspec.structs.replace(first, text="Edited at HQ.", ended_on=date(2026, 11, 30))
    assert replace_hub_actions(store, [edited]) is True  # `acked` was withdrawn at HQ
    assert {a.id: a.text for a in latest_actions(store, 9, today=date(2026, 11, 22))} == {
        on_its_way.id: on_its_way.text,
        first.id: "Edited at HQ.",
    }
    assert pending_actions(store) == [on_its_way]  # still to be sent
    # The hub listing an action the device still thinks pending (its ack was lost): the hub has it.
    assert replace_hub_actions(store, [edited, on_its_way]) is True
    assert pending_actions(store) == []


def test_actions_arrive_with_the_pushed_config_and_a_config_without_them_keeps_them(store: DeviceStore) -> None:
    hq = hub_action(
        "0190f0f0-0000-7000-8000-000000000002", "Cleaner tables.", texts={"fi": "Siistimm\u00e4t p\u00f6yd\u00e4t."}
    )
    elsewhere = msgspec.structs.replace(hub_action("0190f0f0-0000-7000-8000-000000000003", "x"), location_id="store-2")
    assert store_pushed_config(store, encode_config(None, None, [hq, elsewhere]), "store-1") is False  # no survey
    assert latest_actions(store, 5, today=date(2026, 11, 22)) == [hq]
    store_pushed_config(store, encode_config(None, None), "store-1")  # an older hub: no "actions" key
    assert latest_actions(store, 5, today=date(2026, 11, 22)) == [hq]
    store_pushed_config(store, encode_config(None, None, []), "store-1")  # HQ withdrew them all
    assert latest_actions(store, 5, today=date(2026, 11, 22)) == []


def test_an_invalid_pushed_action_leaves_the_store_as_it_was(
    store: DeviceStore, caplog: pytest.LogCaptureFixture
) -> None:
    hq = hub_action("0190f0f0-0000-7000-8000-000000000002", "Cleaner tables.")
    store_pushed_config(store, encode_config(None, None, [hq]), "store-1")
    bad = b'{"v":1,"survey":null,"actions":[{"id":"nope","location_id":"store-1","text":"x"}]}'
    assert store_pushed_config(store, bad, "store-1") is False
    assert "actions.0.id" in caplog.text
    assert latest_actions(store, 5, today=date(2026, 11, 22)) == [hq]


def test_the_actions_table_comes_with_migration_3_on_an_older_store(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with DeviceStore(path, HELSINKI) as store:
        store.record(1, "q", 4)
    conn = sqlite3.connect(path)
    for table in ("actions", "alerts", "alert_notes"):  # a store of version 2 had none of these
        conn.execute(f"DROP TABLE {table}")
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    with DeviceStore(path, HELSINKI) as store:
        assert store.backlog() == 1
        log(store)
        assert action_counts(store) == {PENDING: 1}
