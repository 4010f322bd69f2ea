"""The alert evaluator: a hub thread that checks every enabled rule every few seconds.

Each (rule, location, device) whose condition holds gets one ``firing``
episode, and its webhook delivery is queued in the same transaction; while it
stays firing nothing more is sent. When the condition clears, the episode is
``resolved``; a later breach starts a new one. A rule that fails to evaluate
leaves its episodes as they are rather than resolving them by mistake.

``run_once(now)`` decides as of ``now``: every window, baseline and offline
time is measured from it, and episodes are stamped with it, so a past day can
be replayed through the real rules. The thread passes the wall clock.

With several hub workers only the leader evaluates (``holds``): the thread
skips its passes while it is a follower, and a pass stops before its next
fire or resolve once leadership is lost.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from hub.services.alert_checks import Verdict, check_device_offline
from hub.services.alert_reads import RuleInputs, check_location
from hub.services.alert_rules import DeviceOffline, parse_params
from hub.services.regions import within
from hub.services.webhooks import slack_body
from hub.storage.base import Storage
from hub.storage.base_alerts import AlertKey, AlertRule, LocationInfo, NewAlert, RuleSpec

log = logging.getLogger("touchpoint.hub.alerts")


@dataclass
class EvalStats:
    runs: int = 0
    errors: int = 0
    fired: int = 0
    resolved: int = 0
    last_duration_s: float = 0.0


def in_scope(spec: RuleSpec, location_id: str, region: str | None) -> bool:
    if spec.scope_kind == "location":
        return location_id == spec.scope
    if spec.scope_kind == "region":
        return within(region, spec.scope)
    return True


def _parse_ts(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


class AlertEvaluator:
    def __init__(
        self,
        storage: Storage,
        interval_s: float,
        on_fired: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        holds: Callable[[], bool] = lambda: True,
    ) -> None:
        self.storage = storage
        self.holds = holds
        self.interval_s = interval_s
        self.on_fired = on_fired
        self.clock = clock
        self.stats = EvalStats()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-evaluator", daemon=True)

    def start(self) -> None:
        log.info("alert evaluator running every %.1f s", self.interval_s)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            if not self.holds():
                continue  # a follower: the leader evaluates
            started = time.monotonic()
            try:
                self.run_once()
            except Exception:  # a storage hiccup must not end alerting: log, count, try next tick
                self.stats.errors += 1
                log.exception("alert evaluation failed; retrying in %.1f s", self.interval_s)
            self.stats.last_duration_s = time.monotonic() - started

    # --- one pass ------------------------------------------------------------------

    def run_once(self, now: datetime | None = None) -> tuple[int, int]:
        """Evaluate every enabled rule once; returns (fired, resolved)."""
        now = now or self.clock()
        self.stats.runs += 1
        enabled = {r.rule_id: r for r in self.storage.alert_rules() if r.spec.enabled}
        firing = {a.key: a for a in self.storage.firing_alerts()}
        if not enabled and not firing:
            return 0, 0
        conditions, evaluated = self._conditions(enabled, now)
        fired = resolved = 0
        for key, alert in conditions.items():
            if key in firing:
                continue
            if not self.holds():
                return self._count(fired, resolved)  # leadership lost mid-pass: the new leader takes over
            if self._fire(enabled[key.rule_id], alert, now):
                fired += 1
        for key, episode in firing.items():
            # An episode ends when its condition is gone, or its rule is disabled or deleted, never
            # because its rule failed to evaluate this time.
            if key in conditions or (key.rule_id in enabled and key.rule_id not in evaluated):
                continue
            if not self.holds():
                return self._count(fired, resolved)
            if self.storage.resolve_alert(episode.alert_id, now):
                resolved += 1
                why = "condition cleared" if key.rule_id in enabled else "rule disabled or deleted"
                log.info("alert %d resolved (%s): %s", episode.alert_id, why, episode.message)
        return self._count(fired, resolved)

    def _count(self, fired: int, resolved: int) -> tuple[int, int]:
        self.stats.fired += fired
        self.stats.resolved += resolved
        if fired and self.on_fired is not None:
            self.on_fired()
        return fired, resolved

    def _conditions(self, enabled: dict[int, AlertRule], now: datetime) -> tuple[dict[AlertKey, NewAlert], set[int]]:
        """What holds now, per (rule, location, device); and which rules evaluated cleanly."""
        conditions: dict[AlertKey, NewAlert] = {}
        evaluated: set[int] = set()
        inputs = RuleInputs(self.storage, now)
        locations = self.storage.alert_locations()
        for rule in enabled.values():
            try:
                for key, label, verdict in self._evaluate(rule, locations, inputs):
                    conditions[key] = NewAlert(key, f"{label}: {verdict.message}", verdict.details)
                evaluated.add(rule.rule_id)
            except Exception:
                self.stats.errors += 1
                log.exception(
                    "alert rule %d (%s) could not be evaluated; its alerts stay as they are",
                    rule.rule_id,
                    rule.spec.name,
                )
        return conditions, evaluated

    def _fire(self, rule: AlertRule, alert: NewAlert, now: datetime) -> bool:
        render = functools.partial(slack_body, rule)
        event = self.storage.fire_alert(alert, now, rule.spec.webhook_url, render)
        if event is None:
            return False  # another hub worker opened this episode a moment ago
        log.warning("alert %d fired: rule %d (%s) %s", event.alert_id, rule.rule_id, rule.spec.name, alert.message)
        return True

    def _evaluate(
        self, rule: AlertRule, locations: list[LocationInfo], inputs: RuleInputs
    ) -> list[tuple[AlertKey, str, Verdict]]:
        spec = rule.spec
        params = parse_params(spec.kind, spec.params)
        out: list[tuple[AlertKey, str, Verdict]] = []
        if isinstance(params, DeviceOffline):
            for device in self.storage.device_states():
                if not in_scope(spec, device.location_id, device.region):
                    continue
                verdict = check_device_offline(params, device.online, _parse_ts(device.status_at), inputs.now)
                if verdict is not None:
                    key = AlertKey(rule.rule_id, device.location_id, device.device_id)
                    out.append((key, f"{device.location_id}/{device.device_id}", verdict))
            return out
        for loc in locations:
            if not in_scope(spec, loc.location_id, loc.region):
                continue
            verdict = check_location(params, loc, inputs)
            if verdict is not None:
                out.append((AlertKey(rule.rule_id, loc.location_id), loc.location_id, verdict))
        return out
