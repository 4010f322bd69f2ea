"""Actions in the hub's storage, on both backends: keyed on id, deleted softly, edited field by field."""

from __future__ import annotations

from datetime import UTC, date, datetime

from edge_agent.protocol import Action, Rejection
from hub.storage.base import Storage
from hub.storage.base_actions import ActionChanges, ActionRecord, IncomingActions
from tests.hub.backends import raw

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def device_action(n: int, location: str = "store-1", **kw: object) -> Action:
    fields: dict[str, object] = {
        "id": f"01a202b2-cf00-7a1b-9c2d-3e4f5a6b7c{n:02d}", "location_id": location,
        "text": f"We did thing {n}.", "texts": {"fi": f"Teimme asian {n}."}, "reason": "queue",
        "started_on": date(2026, 11, n), "logged_by": "manager@dev-1", "created_at": NOW,
    }  # fmt: skip
    fields.update(kw)
    return Action(**fields)  # type: ignore[arg-type]


def batch(*actions: Action, batch_id: str = "b1", rejected: list[Rejection] | None = None) -> IncomingActions:
    return IncomingActions("dev-1", "store-1", batch_id, list(actions), rejected or [])


def hq_action(action_id: str, location: str = "store-2", started: date = date(2026, 11, 3)) -> ActionRecord:
    stamp = "2026-11-22T10:00:00.000Z"
    return ActionRecord(action_id, location, "New signs.", None, None, started, None, "IT", None, stamp, stamp)


def test_a_batch_is_stored_once_and_a_resend_is_acked_as_duplicates(storage: Storage) -> None:
    a1, a2 = device_action(1), device_action(2, reason=None, texts=None)
    bad = Rejection(id="x", error="location_id: not this device's")
    [ack] = storage.ingest_actions([batch(a1, a2, rejected=[bad])], NOW)
    assert (ack.batch_id, ack.accepted, ack.duplicates, ack.rejected) == ("b1", [a1.id, a2.id], [], [bad])
    # The same batch again, and a second batch in the same call naming one old and one new action.
    a3 = device_action(3)
    acks = storage.ingest_actions([batch(a1, a2), batch(a2, a3, batch_id="b2")], NOW)
    assert [(a.batch_id, a.accepted, a.duplicates) for a in acks] == [
        ("b1", [], [a1.id, a2.id]),
        ("b2", [a3.id], [a2.id]),
    ]
    assert raw(storage, "SELECT COUNT(*) FROM actions") == [(3,)]
    stored = storage.action(a1.id)
    assert stored is not None
    assert (stored.text, stored.texts, stored.reason, stored.started_on, stored.device_id, stored.logged_by) == (
        a1.text, a1.texts, "queue", date(2026, 11, 1), "dev-1", "manager@dev-1",
    )  # fmt: skip
    assert stored.created_at == "2026-11-22T10:00:00.000Z"
    assert [a.id for a in storage.list_actions()] == [a3.id, a2.id, a1.id]  # newest start first
    assert storage.list_actions(["store-9"]) == []


def test_a_deleted_action_stays_deleted_when_a_device_sends_it_again(storage: Storage) -> None:
    a1 = device_action(1)
    storage.ingest_actions([batch(a1)], NOW)
    assert storage.delete_action(a1.id, NOW)
    assert not storage.delete_action(a1.id, NOW)  # already gone
    assert storage.action(a1.id) is None
    [ack] = storage.ingest_actions([batch(a1, batch_id="late")], NOW)
    assert (ack.accepted, ack.duplicates) == ([], [a1.id])
    assert storage.action(a1.id) is None
    assert storage.list_actions() == []
    assert raw(storage, "SELECT deleted_at FROM actions WHERE id = ?", (a1.id,)) == [("2026-11-22T10:00:00.000Z",)]


def test_hq_actions_are_created_listed_by_location_and_edited_field_by_field(storage: Storage) -> None:
    assert storage.create_action(hq_action("a-1"))
    assert not storage.create_action(hq_action("a-1"))  # the id is taken
    storage.create_action(hq_action("a-2", "store-3", date(2026, 11, 5)))
    assert [a.id for a in storage.list_actions(["store-2"])] == ["a-1"]
    assert [a.id for a in storage.list_actions(["store-2", "store-3"])] == ["a-2", "a-1"]
    later = datetime(2026, 11, 23, tzinfo=UTC)
    changed = storage.update_action(
        "a-1",
        ActionChanges(frozenset({"ended_on", "texts", "reason"}), texts={"sv": "Nya skyltar."},
                      reason="selection", ended_on=date(2026, 11, 20)),
        later,
    )  # fmt: skip
    assert changed is not None
    assert (changed.text, changed.texts, changed.reason, changed.ended_on) == (
        "New signs.", {"sv": "Nya skyltar."}, "selection", date(2026, 11, 20),
    )  # fmt: skip
    assert changed.updated_at == "2026-11-23T00:00:00.000Z"
    assert changed.created_at == "2026-11-22T10:00:00.000Z"
    cleared = storage.update_action("a-1", ActionChanges(frozenset({"reason", "texts"})), later)
    assert cleared is not None and (cleared.reason, cleared.texts, cleared.ended_on) == (None, None, date(2026, 11, 20))
    assert storage.update_action("nope", ActionChanges(frozenset({"text"}), text="x"), later) is None
    storage.delete_action("a-2", later)
    assert storage.update_action("a-2", ActionChanges(frozenset({"text"}), text="x"), later) is None


def test_the_actions_pushed_to_a_device_are_recorded_beside_its_survey(storage: Storage) -> None:
    storage.record_published("dev-1", None, None, NOW, actions_key="k1")
    storage.record_published("dev-2", "s", 2, NOW)
    sent = storage.published_configs()
    assert (sent["dev-1"].actions_key, sent["dev-2"].actions_key, sent["dev-2"].version) == ("k1", None, 2)
