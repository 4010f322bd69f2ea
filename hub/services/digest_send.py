"""Sending a digest: an e-mail over SMTP (text and HTML alternatives) and/or a JSON POST to a webhook.

E-mail uses only the standard library (``smtplib``, ``email.message``):
STARTTLS, implicit TLS or plain, with a login when a user is set; the
settings are the hub's ``TOUCHPOINT_HUB_SMTP_*``. A webhook gets the digest's
facts as JSON with an ``Idempotency-Key`` header (and ``idempotency_key`` in
the body), as alert webhooks do. The key names the target and the week, not
the body: a second run for the same week (a retry, a scheduler catching up)
carries the same key, so a receiver can drop it.
"""

from __future__ import annotations

import hashlib
import json
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from hub.core.config import HubSettings
from hub.services.alert_rules import redact_url
from hub.services.digest import Digest
from hub.services.digest_html import render_html
from hub.services.digest_text import change_text, number, render_text
from hub.services.webhooks import post_json, with_idempotency_key

DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


class SendError(RuntimeError):
    """A digest could not be delivered; the message names the server or URL (never a password or URL path)."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str
    user: str | None
    password: str | None
    sender: str
    timeout_s: float

    @classmethod
    def of(cls, settings: HubSettings) -> SmtpConfig:
        if not settings.smtp_host:
            raise SendError("no SMTP server: set TOUCHPOINT_HUB_SMTP_HOST (or --smtp-host)")
        port = settings.smtp_port or DEFAULT_PORTS[settings.smtp_security]
        sender = settings.smtp_from or f"touchpoint@{socket.getfqdn() or 'localhost'}"
        return cls(settings.smtp_host, port, settings.smtp_security, settings.smtp_user, settings.smtp_password,
                   sender, settings.smtp_timeout_s)  # fmt: skip

    def describe(self) -> str:
        return f"{self.host}:{self.port} ({self.security}{', as ' + self.user if self.user else ''})"


def email_message(digest: Digest, sender: str, recipients: list[str]) -> EmailMessage:
    """multipart/alternative: the text version first, the HTML version (what most clients show) last."""
    message = EmailMessage()
    message["Subject"] = digest.subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(digest.generated_at.timestamp(), localtime=False)
    message["Message-ID"] = make_msgid("touchpoint-digest")
    message["X-Touchpoint-Digest"] = f"{digest.target.kind}={digest.target.id}; week={digest.week.iso_week()}"
    message.set_content(render_text(digest))
    message.add_alternative(render_html(digest), subtype="html")
    return message


def send_email(config: SmtpConfig, message: EmailMessage) -> None:
    """Hand the message to the SMTP server; SendError says which server failed and why."""
    context = ssl.create_default_context()
    try:
        if config.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout_s, context=context)
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=config.timeout_s)
        with client:
            if config.security == "starttls":
                client.starttls(context=context)
            if config.user:
                client.login(config.user, config.password or "")
            refused = client.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise SendError(f"SMTP {config.host}:{config.port}: {type(exc).__name__}: {exc}") from None
    if refused:
        raise SendError(f"SMTP {config.host}:{config.port} refused {', '.join(sorted(refused))}")


def idempotency_key(digest: Digest, url: str) -> str:
    """The same for every send of one target's week to one URL: a receiver drops the repeats."""
    digest_of_url = hashlib.sha256(url.encode()).hexdigest()[:12]
    target = digest.target.id.replace("/", ".")
    return f"touchpoint-digest-{digest.target.kind}-{target}-{digest.week.iso_week()}-{digest_of_url}"


def webhook_body(digest: Digest) -> str:
    """Slack-compatible ``text`` (a one-line summary) plus every fact under ``digest``."""
    main = digest.main
    if main is None:
        summary = "no answers"
    else:
        row = main.current
        change = change_text(row, "happy_index")
        summary = f"Happy Index {number(row.get('happy_index'))}, {change} against the week before; " \
                  f"{number(row.get('pct_positive'))}% positive, n = {row.get('n')}"  # fmt: skip
    text = (
        f":bar_chart: Touchpoint weekly digest: {digest.name}, {digest.week.label()}: {summary}; "
        f"{len(digest.open_alerts)} open alerts, {len(digest.praise)} praise"
    )
    return json.dumps({"text": text, "digest": digest.as_dict()}, ensure_ascii=False)


def send_webhook(digest: Digest, url: str, timeout_s: float) -> str:
    """POST the digest; returns the idempotency key, raises SendError (with the URL redacted) on failure."""
    key = idempotency_key(digest, url)
    error = post_json(url, with_idempotency_key(webhook_body(digest), key), timeout_s, key)
    if error is not None:
        raise SendError(f"webhook {redact_url(url)}: {error}")
    return key
