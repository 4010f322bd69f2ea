"""A revoked device can no longer connect; a rotated password replaces the old one."""

from __future__ import annotations

from edge_agent.protocol import topic
from tests.security.support import Client, Fleet, hub_cli_ok, run_hub_cli
from tests.support import wait_until


def test_a_revoked_device_is_disconnected_and_can_no_longer_connect(fleet: Fleet) -> None:
    assert fleet.broker is not None
    device = fleet.devices["kiosk-a"]
    a = Client(fleet.port, "kiosk-a", device.password, fleet.ca, "kiosk-a")
    b = Client(fleet.port, "kiosk-b", fleet.devices["kiosk-b"].password, fleet.ca, "kiosk-b")
    try:
        assert a.connected() == "Success"
        assert b.connected() == "Success"
        out = hub_cli_ok("device", "revoke", "--db", str(fleet.db), "kiosk-a", "--reload-pid", str(fleet.broker.pid))
        assert "revoked device kiosk-a" in out
        assert f"reloaded Mosquitto (pid {fleet.broker.pid})" in out
        # The reload drops A's live connection, and every reconnect is refused.
        a.next("disconnect", timeout=5)
        assert a.connected() == "Not authorized"
        fresh = Client(fleet.port, "kiosk-a", device.password, fleet.ca, "kiosk-a")
        try:
            assert fresh.connected() == "Not authorized"
        finally:
            fresh.close()
        # B is untouched.
        assert b.publish(topic("store-2", "kiosk-b", "events"), b"{}") in ("Success", "No matching subscribers")
        assert [e for e in list(b.events.queue) if e[0] == "disconnect"] == []
    finally:
        a.close()
        b.close()
    passwd = (fleet.broker_dir / "passwd").read_text()
    acl = (fleet.broker_dir / "acl").read_text()
    assert "kiosk-a" not in passwd and "kiosk-a" not in acl
    # Listed as revoked, and its id is never handed out again.
    listing = hub_cli_ok("device", "list", "--db", str(fleet.db))
    assert any(line.startswith("kiosk-a") and "revoked" in line for line in listing.splitlines()), listing
    code, _, err = run_hub_cli(
        "device", "add", "--db", str(fleet.db), "--location", "store-1", "--device", "kiosk-a",
        "--out", str(fleet.root / "again"), "--timezone", "UTC",
    )  # fmt: skip
    assert code == 2 and "was revoked" in err


def test_rotate_issues_a_new_password_and_the_old_one_stops_working(fleet: Fleet) -> None:
    assert fleet.broker is not None
    old_password = fleet.devices["kiosk-b"].password
    out = hub_cli_ok(
        "device", "rotate", "--db", str(fleet.db), "kiosk-b", "--out", str(fleet.root / "rotated"),
        "--store-path", "device.sqlite", "--reload-pid", str(fleet.broker.pid),
    )  # fmt: skip
    assert "issued new credentials for device kiosk-b" in out
    new_password = (fleet.root / "rotated" / "kiosk-b" / "broker.pass").read_text().strip()
    assert new_password != old_password

    def login(password: str) -> str:
        client = Client(fleet.port, "kiosk-b", password, fleet.ca, "kiosk-b")
        try:
            return client.connected()
        finally:
            client.close()

    wait_until(lambda: login(old_password) == "Not authorized", 5, "the old password to be refused")
    assert login(new_password) == "Success"
