"""Manager access on the real Kivy kiosk: the corner gesture, the PIN pad's lock-out, the figures, the lock-down."""

from __future__ import annotations

import pytest

from edge_agent.pin import hash_pin
from edge_agent.report import format_report, manager_summary
from edge_agent.store import DeviceStore
from kiosk.ui import manager_access
from kiosk.ui import root as kiosk_root
from tests.kiosk.kivy_rig import KioskCase

PIN = "2468"
PIN_HASH = hash_pin(PIN)
# (value, reason) on the default 4-face question, recorded outside the kiosk (like `touchpoint-agent tap`).
SEED = [(3, None), (3, None), (2, None), (3, None), (0, "queue"), (1, "staff"), (0, "queue"), (2, None)]


class ManagerTest(KioskCase):
    def seed(self) -> None:
        with DeviceStore(self.db_path, "Europe/Helsinki") as store:
            for value, reason in SEED:
                store.record(value, "default", 4, source="cli", reason=reason)

    def test_pin_lock_out_then_manager_view_equals_manager_summary(self) -> None:
        self.seed()
        root = self.start(self.make_config(manager_pin_hash=PIN_HASH))
        self.hold_corner(root, kiosk_root.HOLD_S - 1)
        assert root.sm.current == "question"  # too short
        self.hold_corner(root, kiosk_root.HOLD_S + 0.1)
        assert root.sm.current == "pin"
        assert len(self.rows()) == len(SEED)  # the gesture recorded nothing

        with self.assertLogs("touchpoint.kiosk", "WARNING"):
            self.type_pin(root, "1111")
        assert root.sm.current == "pin"
        assert root.pin.status.text == "Wrong PIN"
        assert root.pin.dots.count == 0
        self.type_pin(root, "1234")
        self.type_pin(root, "0000")
        assert root.pin.status.text == "Too many wrong PINs. Try again in 5 s."
        self.type_pin(root, PIN)  # right, but locked out
        assert root.sm.current == "pin"
        self.later(5.1)
        assert root.pin.status.text == ""

        self.type_pin(root, PIN)

        assert root.sm.current == "manager"
        with DeviceStore(self.db_path, "Europe/Helsinki") as store:
            summary = manager_summary(store)
            report = format_report(summary, "kiosk-test", "test-store")
        [q] = summary["questions"]
        assert q["n"] == len(SEED)
        assert root.manager.happy_index_label.text == f"{q['happy_index']:.1f}"
        assert root.manager.n_label.text == f"n = {q['n']}"
        assert [label.text for label in root.manager.count_labels] == [str(c) for c in q["counts"]] == [
            "2", "1", "2", "3",
        ]  # fmt: skip
        low, high = q["happy_index_ci"]
        assert root.manager.ci_label.text == f"95% CI {low:.1f}-{high:.1f}"
        # The same figures as the terminal report.
        assert f"Happy Index {root.manager.happy_index_label.text}  (95% CI {low:.1f}-{high:.1f})" in report
        assert root.manager.reasons_label.text == "Reasons behind negative answers: Waiting time (2), Staff (1)"
        assert [n for _h, n, _b in root.manager.chart.bars] == [h["n"] for h in summary["hours"]["default"]]
        assert "backlog 8" in root.manager.sync_label.text

        self.tap(root.manager.back)
        assert root.sm.current == "question"
        assert not root.exit_requested

    def test_exit_kiosk_needs_the_manager_view(self) -> None:
        exits: list[bool] = []
        root = self.start(self.make_config(manager_pin_hash=PIN_HASH), on_exit=lambda: exits.append(True))
        self.hold_corner(root, kiosk_root.HOLD_S + 0.1)
        self.type_pin(root, PIN)
        assert root.sm.current == "manager"
        assert root.manager.n_label.text == "n = 0"
        self.tap(root.manager.exit)
        assert exits == [True] and root.exit_requested

    def test_manager_access_is_disabled_without_a_pin_hash(self) -> None:
        root = self.start()
        with self.assertLogs("touchpoint.kiosk", "WARNING") as logs:
            self.hold_corner(root, kiosk_root.HOLD_S + 0.1)
        assert "manager_pin_hash is not set" in logs.output[0]
        assert root.sm.current == "no_manager"
        assert root.no_manager.message.text == "Manager access is disabled"
        assert "kiosk.manager_pin_hash" in root.no_manager.detail.text
        assert root.no_manager.back is not None
        self.tap(root.no_manager.back)
        assert root.sm.current == "question"

    def test_pin_pad_gives_up_after_idle(self) -> None:
        root = self.start(self.make_config(manager_pin_hash=PIN_HASH))
        self.hold_corner(root, kiosk_root.HOLD_S + 0.1)
        self.tap(root.pin.keys["2"])
        self.later(manager_access.PIN_IDLE_S - 1)
        assert root.sm.current == "pin"
        self.later(1.1)
        assert root.sm.current == "question"


class LockDownTest(KioskCase):
    def test_escape_and_close_requests_are_refused_until_the_manager_exits(self) -> None:
        from kivy.core.window import Window

        from kiosk.app import TouchpointKiosk

        app = TouchpointKiosk(self.make_config(), windowed=True)
        root = app.build()
        self.addCleanup(app.on_stop)
        self.render(root)
        assert root.sm.current == "question"
        assert Window.allow_screensaver is False
        assert Window.dispatch("on_keyboard", 27, 41, None, []) is True  # Escape swallowed
        assert Window.dispatch("on_request_close") is True
        app.exit_allowed = True
        assert not Window.dispatch("on_request_close")


def test_help_explains_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    from kiosk.app import main

    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "--config" in out and "--windowed" in out and "top-left corner" in out
