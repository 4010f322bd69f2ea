"""The demo closes the loop: actions stores took, their measured effect, next week's forecast and a digest.

Helsinki had a queue at lunch every day until it opened a second till four weeks ago (the simulator's
``fixed_queue``); HQ logs that action over the API and the hub measures its effect against the other
stores (difference-in-differences). Tokyo's manager logs an action on the kiosk, offline-first, and it
reaches the hub over MQTT like a tap. The digest goes to the demo's webhook receiver and to an HTML file.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from demo.hubapi import HubAPI, HubError
from demo.stores import DemoDevice
from edge_agent.actions import log_action

HQ_ACTION = {
    "text": "We opened a second till at lunch.",
    "texts": {"fi": "Avasimme toisen kassan lounasaikaan.", "en": "We opened a second till at lunch."},
    "reason": "queue",
}
KIOSK_TEXT = "We clean the entrance every hour."
KIOSK_REASON = "cleanliness"


def log_kiosk_action(device: DemoDevice) -> None:
    """What a manager's "Log an action" on the kiosk does: store it on the device; the agent sends it."""
    store = device.open_store()
    try:
        log_action(store, KIOSK_TEXT, location_id=device.loc.location_id, logged_by=f"manager@{device.device_id}",
                   reason=KIOSK_REASON)  # fmt: skip
    finally:
        store.close()


def kiosk_store(devices: list[DemoDevice]) -> DemoDevice | None:
    """The store whose manager logs an action on the kiosk: one with neither a fixed nor a usual queue."""
    return next((d for d in devices if d.loc.fixed_queue is None and d.loc.bad_hour is None), None)


def _fixed_store(devices: list[DemoDevice]) -> DemoDevice | None:
    return next((d for d in devices if d.loc.fixed_queue is not None), None)


def post_hq_action(admin: HubAPI, devices: list[DemoDevice]) -> tuple[DemoDevice, str] | None:
    """Log the fixed store's action at HQ, dated the local day its queue went away; its id, or None."""
    device = _fixed_store(devices)
    if device is None or device.loc.fixed_queue is None:
        return None
    today = datetime.now(UTC).astimezone(ZoneInfo(device.loc.timezone)).date()
    started = today - timedelta(days=device.loc.fixed_queue[1])
    body = {**HQ_ACTION, "location_id": device.loc.location_id, "started_on": started.isoformat(), "ended_on": None}
    created: dict[str, Any] = admin.post("/api/v1/actions", body)
    return device, str(created["id"])


def describe_effect(effect: dict[str, Any]) -> str:
    """One line: the verdict and the change in the addressed measure against the peers, with its CI."""
    primary = effect["primary"]
    what = "queue complaints" if primary["measure"] == "reason_share" else "negative answers"
    before, after = primary["treated_before"], primary["treated_after"]
    estimate, ci = primary["estimate"], primary["ci95"]
    if estimate is None or ci is None:
        return f"{effect['verdict']} ({effect.get('note') or 'not enough answers'})"
    return (f"{effect['verdict']}: {what} {before:.1f}% -> {after:.1f}% of answers; against "
            f"{len(effect['peers'])} peer stores that is {estimate:+.1f} points (95% CI {ci[0]:+.1f} to {ci[1]:+.1f}), "
            f"n = {effect['n']['treated_before']} before, {effect['n']['treated_after']} after")  # fmt: skip


def describe_forecast(forecast: dict[str, Any]) -> str:
    """Tomorrow's expected answers and Happy Index with their 80% intervals."""
    days = forecast["days"]
    day = days[1] if len(days) > 1 else days[0]
    answers = day["answers"]
    line = f"{day['day']}: {answers['expected']:.0f} answers (80%: {answers['p80'][0]:.0f}-{answers['p80'][1]:.0f})"
    if day.get("happy_index"):
        hi = day["happy_index"]
        line += f", Happy Index {hi['expected']:.1f} (80%: {hi['p80'][0]:.1f}-{hi['p80'][1]:.1f})"
    return line


def send_digest(env: dict[str, str], hub_db: str, location_id: str, webhook_url: str, html: Path) -> str | None:
    """``touchpoint-hub digest send --now`` to the demo's webhook receiver and an HTML file; a problem, or None."""
    argv = [sys.executable, "-m", "hub.cli", "digest", "send", "--now", "--db", hub_db, "--location", location_id,
            "--webhook", webhook_url, "--html-out", str(html)]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)
    if done.returncode != 0:
        return (done.stderr or done.stdout).strip().splitlines()[-1] if (done.stderr or done.stdout) else "failed"
    return None


def show(
    say: Callable[[str], None],
    api: HubAPI,
    url: str,
    token: str,
    devices: list[DemoDevice],
    hq: tuple[DemoDevice, str] | None,
) -> None:
    """Print the action's effect and the forecast, with where to look and the curl lines."""
    auth = f"-H 'Authorization: Bearer {token}'"
    if hq is not None:
        device, action_id = hq
        where = device.loc.location_id
        try:
            effect = api.get(f"/api/v1/actions/{action_id}/effect")
            say(f'action:    {where}: "{HQ_ACTION["text"]}" (logged at HQ) -- effect: {describe_effect(effect)}')
        except HubError as exc:
            say(f"action:    {where}: the effect could not be read: {exc}")
        say(f"           see {url}/locations/{where} (actions, markers on the trend, forecast) or "
            f"curl -s {auth} '{url}/api/v1/actions/{action_id}/effect'")  # fmt: skip
        try:
            forecast = api.get("/api/v1/forecast", location=where, days=7)
            say(f"forecast:  {where} {describe_forecast(forecast)}")
        except HubError as exc:
            say(f"forecast:  {where}: not available: {exc}")
        say(f"           curl -s {auth} '{url}/api/v1/forecast?location={where}&days=7'")
    if kiosk := kiosk_store(devices):
        say(f"kiosk:     {kiosk.loc.location_id}'s manager logged \"{KIOSK_TEXT}\" on the kiosk; it reaches "
            f"the hub over MQTT: curl -s {auth} '{url}/api/v1/actions?location={kiosk.loc.location_id}'")  # fmt: skip
