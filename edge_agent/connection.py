"""Connecting the agent to its broker: the client from device.toml, and plain words when it fails.

A kiosk installer reads these lines in ``journalctl -u touchpoint-agent``, so each
failure names the setting to check. Repeats of the same failure are logged once
every few minutes, not on every reconnect attempt: the SD card is small.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time

import paho.mqtt.client as mqtt

from edge_agent.config import BrokerConfig, ConfigError
from edge_agent.mqtt import make_client

REPEAT_S = 300.0


def build_client(broker: BrokerConfig, client_id: str) -> mqtt.Client:
    """A paho client for ``broker``; ConfigError naming the field when a file it needs is unusable."""
    try:
        password = broker.password()
    except OSError as exc:
        raise ConfigError(f"broker.password_file: cannot read {broker.password_file}: {exc.strerror}") from None
    if broker.password_file is not None and not password:
        raise ConfigError(f"broker.password_file: {broker.password_file} is empty")
    try:
        return make_client(
            client_id,
            version=broker.mqtt_version,
            username=broker.username,
            password=password,
            ca_file=broker.ca_file,
            tls=broker.tls,
        )
    except ssl.SSLError as exc:
        raise ConfigError(f"broker.ca_file: {broker.ca_file} is not a PEM CA certificate ({exc.reason})") from None
    except OSError as exc:
        raise ConfigError(f"broker.ca_file: cannot read {broker.ca_file}: {exc.strerror}") from None


def describe_connect_failure(exc: BaseException | None, broker: BrokerConfig) -> tuple[int, str]:
    """(log level, message) for a connection attempt that failed before the broker answered."""
    url = broker.url
    if isinstance(exc, ssl.SSLCertVerificationError):
        ca = broker.ca_file or "the system's CA store"
        detail = exc.verify_message or str(exc)
        if "hostname" in detail.lower() or "ip address mismatch" in detail.lower():
            hint = (
                f"the broker's certificate does not name {broker.host!r}: use a host given to "
                "`touchpoint-hub broker certs --host` in broker.url"
            )
        else:
            hint = (
                f"check broker.ca_file ({ca}): it must be the ca.crt of the hub's broker "
                "(from `touchpoint-hub broker certs`, shipped in the device bundle)"
            )
        return logging.ERROR, f"TLS: cannot verify the broker at {url}: {detail}; {hint}"
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or str(exc)
        return logging.ERROR, f"TLS handshake with {url} failed ({reason}); is that port the broker's TLS listener?"
    if isinstance(exc, ConnectionRefusedError):
        return logging.WARNING, f"cannot reach the broker at {url}: connection refused; retrying, taps are kept locally"
    if isinstance(exc, socket.gaierror):
        return logging.WARNING, f"cannot resolve the broker host {broker.host!r}: {exc.strerror}; retrying"
    if isinstance(exc, OSError):
        return logging.WARNING, f"cannot reach the broker at {url}: {exc.strerror or exc!r}; retrying"
    return logging.WARNING, f"cannot connect to the broker at {url}: {exc!r}; retrying"


def describe_refusal(reason: object, broker: BrokerConfig) -> str:
    """The broker answered but refused us (CONNACK with a failure reason)."""
    text = str(reason)
    hint = ""
    if text in ("Not authorized", "Bad user name or password"):
        hint = (
            f"; check broker.username ({broker.username or 'none set'}) and broker.password_file: "
            "a revoked device or an old bundle is refused for good"
        )
    return f"broker {broker.url} refused the connection: {text}{hint}"


class FailureLog:
    """Log a failure when it first happens or changes, then at most every ``repeat_s`` seconds."""

    def __init__(self, logger: logging.Logger, repeat_s: float = REPEAT_S) -> None:
        self.logger = logger
        self.repeat_s = repeat_s
        self._last: str | None = None
        self._last_at = 0.0
        self._suppressed = 0

    def report(self, level: int, message: str) -> None:
        now = time.monotonic()
        extra = ""
        if message == self._last:
            if now - self._last_at < self.repeat_s:
                self._suppressed += 1
                return
            if self._suppressed:
                extra = f" (also {self._suppressed} times since it was last logged)"
        self.logger.log(level, "%s%s", message, extra)
        self._last, self._last_at, self._suppressed = message, now, 0

    def reset(self) -> None:
        self._last, self._suppressed = None, 0
