"""Config push: keep every device's retained config topic equal to its effective survey and its location's actions.

The topic is retained, so a device that is offline today gets its survey when
it next connects. ``device_configs`` records what each device was last sent (the
survey version and a digest of the actions); a reconcile compares that with the
effective survey and the location's current actions, and publishes only the
difference. Reconciles run on one thread, triggered by survey or assignment
or action changes (all devices), by ingest hearing from a device not yet known to be up
to date, by every (re)connect of the hub (the broker may have lost its
retained messages) and every ``resync_s`` as a safety net.

With several hub workers only the leader publishes (``holds``). A follower
drops its triggers: on taking over, a worker reconciles every device.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec
import paho.mqtt.client as mqtt

from edge_agent.config_push import MAX_PUSHED_ACTIONS, encode_config
from edge_agent.protocol import Action, topic
from edge_agent.survey import parse_survey
from hub.services.actions import to_protocol
from hub.services.config_alerts import fingerprint, pushed_alerts
from hub.services.surveys import Resolver
from hub.storage.base import Storage
from hub.storage.base_surveys import DeviceTarget, SurveyVersion

log = logging.getLogger("touchpoint.hub.config_push")
RETRY_S = 5.0


@dataclass
class PushStats:
    published: int = 0
    failures: int = 0
    reconciles: int = 0


@dataclass(frozen=True)
class _Push:
    target: DeviceTarget
    survey: SurveyVersion | None
    actions_key: str
    info: mqtt.MQTTMessageInfo
    alerts_key: str = ""


def actions_key(actions: list[Action]) -> str:
    """A digest of the pushed actions: any new, edited or deleted action changes it."""
    return hashlib.sha256(msgspec.json.encode(actions)).hexdigest()[:32]


def pushed_actions(storage: Storage) -> dict[str, list[Action]]:
    """Each location's actions as pushed: not deleted, newest start first, at most MAX_PUSHED_ACTIONS."""
    out: dict[str, list[Action]] = {}
    for record in storage.list_actions():  # already newest first
        listed = out.setdefault(record.location_id, [])
        if len(listed) < MAX_PUSHED_ACTIONS:
            listed.append(to_protocol(record))
    return out


class ConfigPushService:
    def __init__(
        self,
        storage: Storage,
        client: mqtt.Client,
        connected: threading.Event,
        resync_s: float = 60.0,
        publish_timeout_s: float = 10.0,
        holds: Callable[[], bool] = lambda: True,
        alerts_check_s: float = 5.0,
    ) -> None:
        self.storage = storage
        # Each store's open alerts ride along (hub/services/config_alerts.py): checked every alerts_check_s,
        # and what each device was last sent is remembered here (a new leader sends them all once).
        self.alerts_check_s = alerts_check_s
        self._alerts_sent: dict[str, str] = {}
        self.holds = holds
        self.client = client
        self.connected = connected
        self.resync_s = resync_s
        self.publish_timeout_s = publish_timeout_s
        self.stats = PushStats()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._all = False
        self._pending: set[str] = set()
        self._up_to_date: set[str] = set()
        self._retry_at: float | None = None
        self._thread = threading.Thread(target=self._run, name="config-push", daemon=True)

    # --- triggers (any thread) ------------------------------------------------

    def request_all(self, why: str) -> None:
        """A survey or assignment changed: every device may need a new config."""
        log.info("config push requested for all devices: %s", why)
        with self._lock:
            self._all = True
            self._up_to_date.clear()
        self._wake.set()

    def devices_seen(self, device_ids: Iterable[str]) -> None:
        """Ingest hook: cheap (set arithmetic), so it may run on the ingest worker."""
        with self._lock:
            new = set(device_ids) - self._up_to_date
            if not new:
                return
            self._pending |= new
        self._wake.set()

    # --- the thread -------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        was_connected = False
        next_resync = time.monotonic() + self.resync_s
        next_alerts = time.monotonic() + self.alerts_check_s
        while not self._stop.is_set():
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            if self._stop.is_set():
                return
            if not self.connected.is_set():
                was_connected = False
                continue
            if not self.holds():
                with self._lock:  # the leader pushes; this worker reconciles everything if it takes over
                    self._all, self._pending = False, set()
                continue
            force = not was_connected  # first connect or a reconnect: re-assert every retained config
            was_connected = True
            with self._lock:
                everything, pending = self._all, self._pending
                self._all, self._pending = False, set()
            now = time.monotonic()
            if now >= next_resync or (self._retry_at is not None and now >= self._retry_at):
                everything, next_resync, self._retry_at = True, now + self.resync_s, None
            if now >= next_alerts:  # a fired, resolved, acknowledged or commented alert: only those devices publish
                everything, next_alerts = True, now + self.alerts_check_s
            if not (force or everything or pending):
                continue
            try:
                self.reconcile(None if force or everything else pending, force=force)
            except Exception:
                log.exception("config push failed; retrying in %.0f s", RETRY_S)
                self._retry_at = time.monotonic() + RETRY_S

    # --- the work -----------------------------------------------------------------

    def reconcile(self, device_ids: set[str] | None, force: bool = False) -> int:
        """Publish the configs that differ from what each device was sent; returns how many were published."""
        self.stats.reconciles += 1
        targets = self.storage.config_targets()
        if device_ids is not None:
            targets = [t for t in targets if t.device_id in device_ids]
        resolver = Resolver(self.storage.assignments(), self.storage.latest_surveys())
        sent = self.storage.published_configs()
        actions = pushed_actions(self.storage)
        alerts = pushed_alerts(self.storage, datetime.now(UTC))
        pushes: list[_Push] = []
        current: list[str] = []
        for target in targets:
            want = resolver.effective(target)
            had = sent.get(target.device_id)
            listed = actions.get(target.location_id, [])
            key = actions_key(listed)
            mine = alerts.get(target.location_id, [])
            alerts_key = fingerprint(mine)
            alerts_same = self._alerts_sent.get(target.device_id, fingerprint([])) == alerts_key
            if had is None and want.survey is None and not listed and alerts_same:
                current.append(target.device_id)  # never had a pushed config, nothing to send
                continue
            same = had is not None and (had.survey_id, had.version, had.actions_key) == (*want.key, key)
            if same and alerts_same and not force:
                current.append(target.device_id)
                continue
            if not self.holds():
                log.info("config push stopped: this worker is no longer the leader")
                break
            survey = None if want.survey is None else parse_survey(want.survey.body)
            survey_id = None if want.survey is None else want.survey.survey_id
            payload = encode_config(survey_id, survey, listed, alerts=mine)
            config_topic = topic(target.location_id, target.device_id, "config")
            info = self.client.publish(config_topic, payload, qos=1, retain=True)
            pushes.append(_Push(target, want.survey, key, info, alerts_key))
        published = 0
        for push in pushes:
            if self._confirmed(push):
                published += 1
                current.append(push.target.device_id)
        with self._lock:
            self._up_to_date.update(current)
        return published

    def _confirmed(self, push: _Push) -> bool:
        """Wait for the broker's PUBACK, then record it; unconfirmed pushes are retried by a later reconcile."""
        where = f"device {push.target.device_id} at {push.target.location_id}"
        try:
            push.info.wait_for_publish(timeout=self.publish_timeout_s)
        except (RuntimeError, ValueError) as exc:
            log.warning("config for %s not published: %s; will retry", where, exc)
        if not push.info.is_published():
            self.stats.failures += 1
            self._retry_at = time.monotonic() + RETRY_S  # sooner than the next resync
            return False
        survey = push.survey
        self._alerts_sent[push.target.device_id] = push.alerts_key
        self.storage.record_published(
            push.target.device_id,
            None if survey is None else survey.survey_id,
            None if survey is None else survey.version,
            datetime.now(UTC),
            push.actions_key,
        )
        self.stats.published += 1
        if survey is None:
            log.info("pushed a config without a survey (actions %s) to %s", push.actions_key[:8], where)
        else:
            log.info("pushed survey %s version %d (actions %s) to %s", survey.survey_id, survey.version,
                     push.actions_key[:8], where)  # fmt: skip
        return True
