"""The idle screen and "Log an action" on the real Kivy kiosk, with a real store file and a hand-moved clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from kivy.tests.common import UnitTestTouch

from edge_agent.actions import action_counts, latest_actions, log_action, pending_actions
from edge_agent.store import DeviceStore
from kiosk.ui import idle_mode
from tests.kiosk.kivy_rig import KioskCase, survey_data

TZ = "Europe/Helsinki"
IDLE_S = 15.0  # the bundled survey's idle timeout


class IdleTest(KioskCase):
    def seed(self, this_week: list[int], last_week: list[int], action: bool = True) -> None:
        """Answers (counts by value) today and 8 days ago, and an action on waiting times."""
        now = datetime.now(ZoneInfo(TZ)).replace(hour=12)
        with DeviceStore(self.db_path, TZ, synchronous="NORMAL") as store:
            for when, counts in ((now, this_week), (now - timedelta(days=8), last_week)):
                for value, count in enumerate(counts):
                    for _ in range(count):
                        store.record(value, "default", 4, source="cli", now=when)
            if action:
                log_action(
                    store, "We opened a second till at lunch.", location_id="test-store", logged_by="manager@hq",
                    reason="queue", texts={"fi": "Avasimme toisen kassan lounasaikaan."},
                )  # fmt: skip

    def touches(self) -> int:
        return sum(1 for r in self.rows() if r["source"] == "touch")

    def test_rotates_the_week_and_the_actions_and_the_first_touch_only_wakes_it(self) -> None:
        self.seed(this_week=[2, 3, 10, 25], last_week=[5, 5, 10, 10])  # 35 of 40 positive; 20 of 30
        root = self.start()
        face = root.question.buttons[0]
        x, y = face.to_window(*face.center)
        self.later(IDLE_S - 1)
        assert root.sm.current == "question"
        self.later(1.1)
        assert root.sm.current == "idle"
        slide = root.idle.slide
        assert (slide.kind, slide.lang, slide.title, slide.figure) == ("score", "en", "Your feedback this week", "88%")
        assert root.idle.body.text == "88% of your answers were positive\nLast week: 67%"
        self.later(idle_mode.SLIDE_S)
        assert root.idle.title.text == "You told us: waiting time"
        assert root.idle.body.text == "We opened a second till at lunch."
        self.later(idle_mode.SLIDE_S)
        assert root.idle.title.text == "Palautteenne t\u00e4ll\u00e4 viikolla"  # the next language
        self.later(idle_mode.SLIDE_S)
        assert root.idle.body.text == "Avasimme toisen kassan lounasaikaan."

        # A touch where the most negative face is drawn on the question: it wakes the kiosk, and is no answer.
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        touch.touch_up()
        self.advance_frames(2)
        assert root.sm.current == "question"
        assert self.touches() == 0
        self.tap(root.question.buttons[3])  # the next touch is an answer
        assert self.touches() == 1

    def test_a_touch_while_it_rests_delays_it_and_nothing_to_show_keeps_the_question(self) -> None:
        self.seed(this_week=[1, 1, 1, 1], last_week=[], action=False)  # 4 answers: too few to show
        root = self.start()
        self.later(IDLE_S * 3)
        assert root.sm.current == "question"
        with DeviceStore(self.db_path, TZ) as store:
            log_action(store, "Cleaner tables.", location_id="test-store", logged_by="manager@hq")
        self.later(IDLE_S - 2)
        self.tap(root.question.question_label)  # someone reads the question: the idle time starts again
        self.later(IDLE_S - 1)
        assert root.sm.current == "question"
        self.later(1.1)
        assert root.sm.current == "idle"
        assert (root.idle.title.text, root.idle.body.text) == ("What we changed", "Cleaner tables.")

    def test_switched_off_on_the_device_or_in_the_survey(self) -> None:
        self.seed(this_week=[0, 0, 10, 30], last_week=[])
        root = self.start(self.make_config(idle_screen=False))
        self.later(IDLE_S * 3)
        assert root.sm.current == "question"
        root.shutdown()
        root = self.start(self.make_config(survey_data(idle_screen=False)))
        self.later(IDLE_S * 3)
        assert root.sm.current == "question"

    def test_the_device_can_set_when_it_shows(self) -> None:
        self.seed(this_week=[0, 0, 10, 30], last_week=[], action=False)
        root = self.start(self.make_config(idle_screen_after_s=40))
        self.later(39)
        assert root.sm.current == "question"
        self.later(1.1)
        assert root.sm.current == "idle" and root.idle.figure.text == "100%"
        assert root.idle.body.text == "100% of your answers were positive"  # no last week to compare with


class LogActionTest(KioskCase):
    def test_reason_then_a_preset_text_is_stored_on_the_device_pending_for_the_hub(self) -> None:
        root = self.open_manager()
        self.tap(root.manager.log_action)
        assert root.sm.current == "log_action"
        names = [chip.text for chip in root.action_log.chips]
        assert names == [
            "Waiting time", "Staff", "Cleanliness", "Selection", "Prices", "Something else", "No particular reason",
        ]  # fmt: skip
        self.tap(root.action_log.chips[0])
        assert [chip.text for chip in root.action_log.chips] == [
            "We opened a second till at lunch.",
            "More staff at the tills at busy hours.",
            "Self-service checkouts are now open.",
        ]
        self.tap(root.action_log.back)  # back to the reasons, and on to another
        self.tap(root.action_log.chips[-1])
        self.tap(root.action_log.back)
        self.tap(root.action_log.chips[0])
        self.tap(root.action_log.chips[0])
        assert root.action_log.title.text.startswith("Logged, starting today")
        assert self.touches_nothing()

        with DeviceStore(self.db_path, TZ) as store:
            [action] = pending_actions(store)
            assert latest_actions(store, 5) == [action]
            assert action_counts(store) == {0: 1}
            today = datetime.now(ZoneInfo(TZ)).date()
        assert (action.reason, action.started_on, action.ended_on) == ("queue", today, None)
        assert (action.location_id, action.logged_by) == ("test-store", "manager@kiosk-test")
        assert action.text == "We opened a second till at lunch."
        assert action.texts is not None and set(action.texts) == {"en", "fi", "sv"}

        self.tap(root.action_log.chips[0])  # "Back to the manager view"
        assert root.sm.current == "manager"

    def touches_nothing(self) -> bool:
        return not self.rows()
