"""The manager view's alerts on the real Kivy kiosk: acknowledge one and comment, stored on the device for HQ."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from edge_agent.alert_inbox import PENDING, open_alerts
from edge_agent.config_push import encode_config, store_pushed_config
from edge_agent.protocol import AlertComment, PushedAlert
from edge_agent.store import DeviceStore
from kiosk.ui import theme
from kiosk.ui.alert_inbox import COMMENTS
from tests.kiosk.kivy_rig import KioskCase

TZ = "Europe/Helsinki"
FIRED = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def pushed(alert_id: int, kind: str, message: str, **kw: Any) -> PushedAlert:
    kw.setdefault("location_id", "test-store")
    return PushedAlert(alert_id=alert_id, rule_name=kind.title(), kind=kind, message=message, state="firing",
                       fired_at=FIRED, **kw)  # fmt: skip


class AlertsTest(KioskCase):
    def test_acknowledge_and_comment_are_stored_pending_and_praise_is_good_news(self) -> None:
        with DeviceStore(self.db_path, TZ) as store:  # as the agent stores the hub's pushed config
            alerts = [
                pushed(7, "pct_negative", "42% negative in the last hour",
                       comments=[AlertComment(author="HQ", text="Please check the tills", created_at=FIRED)]),
                pushed(8, "praise", "91% positive today"),
                pushed(9, "pct_negative", "another store's", location_id="elsewhere"),
            ]  # fmt: skip
            store_pushed_config(store, encode_config(None, None, alerts=alerts), "test-store")
        root = self.open_manager()
        assert root.manager.alerts.text == "Alerts (2)"
        self.tap(root.manager.alerts)
        screen = root.alerts_screen
        assert root.sm.current == "alerts" and screen.title.text == "Open alerts for this store: 2"
        rows = {row.alert.alert.alert_id: row for row in screen.rows}
        assert set(rows) == {7, 8}
        assert (rows[7].pill.text, rows[8].pill.text) == ("Firing", "Good news")
        assert rows[8].pill.fill == list(theme.GREEN)
        assert rows[7].status.text.endswith("\u201cPlease check the tills\u201d")

        self.tap(rows[7].ack)
        assert screen.title.text.startswith("Acknowledged")
        rows = {row.alert.alert.alert_id: row for row in screen.rows}
        assert rows[7].ack.text == "Acknowledged" and rows[7].ack.disabled
        assert rows[7].status.text.startswith("Acknowledged by manager@kiosk-test")
        self.tap(rows[8].comment)
        assert [chip.text for chip in screen.chips] == list(COMMENTS)
        self.tap(screen.chips[0])
        assert screen.title.text.startswith("Comment saved")
        assert not [r for r in self.rows() if r["source"] == "touch"]  # no answer was recorded on the way

        with DeviceStore(self.db_path, TZ) as store:
            notes = store.db.execute("SELECT alert_id, kind, text, author, sync_state FROM alert_notes").fetchall()
            assert notes == [(7, "ack", None, "manager@kiosk-test", PENDING),
                             (8, "comment", "Looking into it", "manager@kiosk-test", PENDING)]  # fmt: skip
            overlay = {a.alert.alert_id: (a.acknowledged, a.pending_comments) for a in open_alerts(store.db)}
            assert overlay == {7: (True, []), 8: (False, ["Looking into it"])}
        self.tap(screen.back)
        assert root.sm.current == "manager"
