"""The shopper's flow on the real Kivy kiosk: taps reach the SQLite file before any feedback.

Runs in a real window (our own Xvfb if there is no display): touches hit the
faces at their on-screen positions, and the store file is read back over a
separate connection.
"""

from __future__ import annotations

import os
import sqlite3

from kivy.metrics import mm

from edge_agent.config_push import encode_config, store_pushed_config
from edge_agent.store import DeviceStore
from edge_agent.survey import to_survey
from kiosk.ui import root as kiosk_root
from tests.kiosk.kivy_rig import KioskCase, survey_data, write_survey

FEEDBACK = kiosk_root.FEEDBACK_S + 0.01


class ShopperFlowTest(KioskCase):
    def test_touch_on_a_face_is_stored_before_the_thank_you(self) -> None:
        root = self.start()
        assert root.sm.current == "question"
        assert [b.value for b in root.question.buttons] == [0, 1, 2, 3]

        self.tap(root.question.buttons[3])

        rows = self.rows()
        assert [(r["value"], r["scale"], r["source"], r["misuse"], r["reason"]) for r in rows] == [
            (3, 4, "touch", 0, None)
        ]
        assert rows[0]["question_id"] == "default"
        # Feedback in the very next frame: the chosen face grows and is ringed; the others do not.
        assert [b.chosen for b in root.question.buttons] == [False, False, False, True]
        assert root.sm.current == "question"
        self.later(FEEDBACK)
        assert root.sm.current == "thank_you"
        assert root.thank_you.label.text == "Thank you!"
        self.later(2.9)
        assert root.sm.current == "thank_you"  # survey.thank_you_s is 3 s
        self.later(0.2)
        assert root.sm.current == "question"
        assert not any(b.chosen for b in root.question.buttons)
        assert len(self.rows()) == 1

    def test_negative_answer_reason_goes_onto_the_same_row_and_positive_skips_follow_up(self) -> None:
        root = self.start()
        self.tap(root.question.buttons[0])
        self.later(FEEDBACK)
        assert root.sm.current == "follow_up"
        assert root.follow_up.title.text == "What was the main reason?"
        assert list(root.follow_up.chips) == ["queue", "staff", "cleanliness", "selection", "price", "other"]
        assert root.follow_up.chips["queue"].text == "Waiting time"
        held = self.rows()
        assert held[0]["reason"] is None and held[0]["hold_until"] is not None

        self.tap(root.follow_up.chips["queue"])

        assert root.sm.current == "thank_you"
        rows = self.rows()
        assert len(rows) == 1
        assert (rows[0]["id"], rows[0]["value"], rows[0]["reason"], rows[0]["hold_until"]) == (
            held[0]["id"], 0, "queue", None,
        )  # fmt: skip

        self.later(3.1)
        self.later(10)  # outside the response interval: a counted answer
        self.tap(root.question.buttons[2])
        self.later(FEEDBACK)
        assert root.sm.current == "thank_you"
        assert "follow_up" not in self.screens[self.screens.index("thank_you") + 1 :]
        rows = self.rows()
        assert [(r["value"], r["reason"], r["hold_until"], r["misuse"]) for r in rows] == [
            (0, "queue", None, 0),
            (2, None, None, 0),
        ]

    def test_skip_leaves_the_reason_empty_and_releases_the_hold(self) -> None:
        root = self.start()
        self.tap(root.question.buttons[1])
        self.later(FEEDBACK)
        assert root.sm.current == "follow_up"
        assert root.follow_up.skip.text == "Skip"
        assert self.rows()[0]["hold_until"] is not None

        self.tap(root.follow_up.skip)

        assert root.sm.current == "thank_you"
        rows = self.rows()
        assert [(r["value"], r["reason"], r["hold_until"]) for r in rows] == [(1, None, None)]

    def test_unanswered_follow_up_returns_to_the_question_after_the_idle_timeout(self) -> None:
        root = self.start(self.make_config(survey_data(idle_timeout_s=6, thank_you_s=1.5)))
        self.tap(root.question.buttons[0])
        self.later(FEEDBACK)
        assert root.sm.current == "follow_up"
        self.later(5.8)
        assert root.sm.current == "follow_up"
        self.later(0.3)
        assert root.sm.current == "question"
        assert "thank_you" not in self.screens
        # The tap stays stored without a reason; its hold expires by itself so it syncs.
        [row] = self.rows()
        assert row["reason"] is None and row["hold_until"] is not None

        # The short thank-you of this survey file is honoured too.
        self.later(10)
        self.tap(root.question.buttons[3])
        self.later(FEEDBACK)
        assert root.sm.current == "thank_you"
        self.later(1.4)
        assert root.sm.current == "thank_you"
        self.later(0.2)
        assert root.sm.current == "question"

    def test_quick_second_tap_is_flagged_misuse_and_looks_the_same(self) -> None:
        root = self.start(self.make_config(survey_data(response_interval_s=30)))
        self.tap(root.question.buttons[3])
        self.later(FEEDBACK)
        self.later(3.1)
        first_cycle = self.screens[:]
        assert first_cycle == ["question", "thank_you", "question"]

        self.tap(root.question.buttons[3])  # 3.4 s after the first: inside the 30 s response interval
        self.later(FEEDBACK)
        self.later(3.1)
        assert self.screens == [*first_cycle, "thank_you", "question"]
        assert [(r["value"], r["misuse"]) for r in self.rows()] == [(3, 0), (3, 1)]

        self.tap(root.question.buttons[0])  # a misused negative answer still gets the follow-up screen
        self.later(FEEDBACK)
        assert root.sm.current == "follow_up"
        self.tap(root.follow_up.chips["staff"])
        assert root.sm.current == "thank_you"
        assert [(r["value"], r["misuse"], r["reason"]) for r in self.rows()] == [
            (3, 0, None),
            (3, 1, None),
            (0, 1, "staff"),
        ]

    def test_language_switch_changes_the_question_and_resets_for_the_next_shopper(self) -> None:
        root = self.start()
        assert root.question.question_label.text == "How was your visit today?"
        assert list(root.question.language_buttons) == ["en", "fi", "sv"]
        assert root.question.language_buttons["en"].selected

        self.tap(root.question.language_buttons["fi"])

        assert root.question.question_label.text == "Millainen käyntisi oli tänään?"
        assert root.question.language_buttons["fi"].selected
        assert not root.question.language_buttons["en"].selected
        self.tap(root.question.buttons[0])
        self.later(FEEDBACK)
        assert root.follow_up.title.text == "Mikä oli tärkein syy?"
        assert root.follow_up.chips["queue"].text == "Jonotus"
        self.tap(root.follow_up.skip)
        assert root.thank_you.label.text == "Kiitos!"
        self.later(3.1)
        assert root.question.question_label.text == "How was your visit today?"

        self.tap(root.question.language_buttons["sv"])
        assert root.question.question_label.text == "Hur var ditt besök i dag?"
        self.later(15.1)  # nobody answered: back to the default language
        assert root.question.question_label.text == "How was your visit today?"

    def test_survey_file_change_is_picked_up_without_restart(self) -> None:
        config = self.make_config(survey_data(version=1))
        root = self.start(config)
        assert root.question.question_label.text == "How was your visit today?"
        assert len(root.question.buttons) == 4

        data = survey_data(version=2)
        data["question"] = {**data["question"], "id": "checkout", "scale": 5}
        data["question"]["text"] = {**data["question"]["text"], "en": "How was the checkout?"}
        assert config.kiosk.survey_file is not None
        write_survey(config.kiosk.survey_file, data)
        self.later(2.1)  # the kiosk polls its survey every 2 s

        assert root.question.question_label.text == "How was the checkout?"
        assert [b.value for b in root.question.buttons] == [0, 1, 2, 3, 4]
        self.tap(root.question.buttons[4])
        assert [(r["question_id"], r["scale"], r["value"]) for r in self.rows()] == [("checkout", 5, 4)]

    def test_a_kiosk_started_after_a_hub_push_shows_the_pushed_question(self) -> None:
        """The agent stores a pushed config with store_pushed_config (tests/integration/test_config_push.py
        proves it does, from a real hub through a real broker); a kiosk started afterwards asks it."""
        data = survey_data(version=3)
        data["question"] = {**data["question"], "id": "checkout"}
        data["question"]["text"] = {**data["question"]["text"], "en": "How was the checkout today?"}
        with DeviceStore(self.db_path) as agent_store:
            assert store_pushed_config(agent_store, encode_config("checkout", to_survey(data)))

        root = self.start(self.make_config())
        assert root.question.question_label.text == "How was the checkout today?"
        self.tap(root.question.buttons[3])
        assert [(r["question_id"], r["survey_version"]) for r in self.rows()] == [("checkout", 3)]

    def test_answer_targets_are_at_least_15_mm(self) -> None:
        target = mm(15)
        assert target > 50  # 15 mm at Kivy's reported density is a real size, not a unit mix-up
        root = self.start()
        for button in root.question.buttons:
            assert min(button.size) >= target and button.face_diameter >= target, button.size
        for button in root.question.language_buttons.values():
            assert min(button.size) >= target
        assert root.corner.width >= target
        self.tap(root.question.buttons[0])
        self.later(FEEDBACK)
        for chip in [*root.follow_up.chips.values(), root.follow_up.skip]:
            assert min(chip.size) >= target, (chip.text, chip.size)

    def test_zero_to_ten_targets_are_at_least_15_mm_even_in_portrait(self) -> None:
        data = survey_data()
        data["question"] = {**data["question"], "scale": 11}
        root = self.start(self.make_config(data))
        assert [b.text for b in root.question.buttons] == [str(v) for v in range(11)]
        rows: dict[tuple[int, int], int] = {}
        for size in ((800, 480), (480, 800), (1280, 800)):
            self.resize(size)
            for button in root.question.buttons:
                assert min(button.size) >= mm(15), (size, button.size)
                assert button.right <= root.width and button.x >= 0, (size, button.pos)
            rows[size] = len({round(b.y) for b in root.question.buttons})
        # 11 targets of 15 mm do not fit in one row 480 px wide: two rows there.
        assert rows == {(800, 480): 1, (480, 800): 2, (1280, 800): 1}
        self.resize((800, 480))
        self.tap(root.question.buttons[7])
        assert [(r["scale"], r["value"]) for r in self.rows()] == [(11, 7)]


class StoreErrorTest(KioskCase):
    def test_a_tap_the_store_refuses_shows_the_error_state_never_thanks(self) -> None:
        root = self.start()
        # A real failure inside SQLite, from outside the kiosk: every insert into events now aborts.
        conn = sqlite3.connect(self.db_path)
        conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk says no'); END")
        conn.commit()

        with self.assertLogs("touchpoint.kiosk", "ERROR") as logs:
            self.tap(root.question.buttons[3])
        assert "NOT stored" in logs.output[0] and "disk says no" in logs.output[0]

        assert root.sm.current == "error"
        assert root.error.message.text == "Sorry, we could not save your answer \u2014 please tell staff."
        assert not any(b.chosen for b in root.question.buttons)
        self.later(FEEDBACK)
        self.later(3.1)
        assert root.sm.current == "error"
        assert "thank_you" not in self.screens
        assert self.rows() == []

        conn.execute("DROP TRIGGER refuse")
        conn.commit()
        conn.close()
        self.later(kiosk_root.ERROR_SHOW_S)
        assert root.sm.current == "question"
        self.tap(root.question.buttons[3])
        self.later(FEEDBACK)
        assert root.sm.current == "thank_you"
        assert [r["value"] for r in self.rows()] == [3]

    def test_store_unavailable_at_start_shows_the_error_and_retries(self) -> None:
        self.db_path.mkdir()  # a directory where the database file should be: SQLite cannot open it
        with self.assertLogs("touchpoint.kiosk", "ERROR") as logs:
            root = self.start()
        assert "device store unavailable" in logs.output[0]
        assert root.services is None
        assert root.sm.current == "error"
        assert root.error.message.text.startswith("Sorry, this feedback point is not working")
        assert str(self.db_path) in root.error.detail.text
        self.tap(root.error.message)
        assert root.sm.current == "error"

        os.rmdir(self.db_path)
        self.later(root.store_retry_s - 1)
        assert root.sm.current == "error"
        self.later(1.1)
        assert root.sm.current == "question"
        self.tap(root.question.buttons[2])
        assert [r["value"] for r in self.rows()] == [2]
