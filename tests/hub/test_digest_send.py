"""Sending the digest: a real local SMTP server (aiosmtpd), a real HTTP receiver, and the CLI end to end."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from hub.broker import free_port
from hub.cli import main
from hub.core.config import HubSettings
from hub.services.digest import DigestTarget
from hub.services.digest_compose import compose
from hub.services.digest_send import SendError, SmtpConfig, email_message, send_email, send_webhook
from hub.storage.sqlite import SqliteStorage
from tests.hub.digest_data import AS_OF, WEEK, api_get, fill
from tests.integration.test_alerts import WebhookReceiver

AKL = DigestTarget("location", "akl-1")


class Mailbox:
    """Messages the SMTP server accepted, parsed, with their envelopes."""

    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, EmailMessage]] = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope, parsed))
        return "250 Message accepted for delivery"

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        user, password = data.login.decode(), data.password.decode()
        self.logins.append((user, password))
        return AuthResult(success=password == "s3cret", handled=False)  # handled=False: the server answers 535


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, authenticator=box.authenticate,
                            auth_require_tls=False)  # fmt: skip
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver()
    yield r
    r.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "hub.sqlite"
    fill(path).close()
    return path


def smtp(port: int, **overrides: Any) -> SmtpConfig:
    settings = HubSettings(smtp_host="127.0.0.1", smtp_port=port, smtp_security="none", smtp_from="hq@example.com",
                           **overrides)  # fmt: skip
    return SmtpConfig.of(settings)


def parts(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())  # type: ignore[attr-defined]


def test_the_email_arrives_with_text_and_html_parts_and_the_chart(db: Path, smtp_server: tuple[Mailbox, int]) -> None:
    box, port = smtp_server
    storage = SqliteStorage(db)
    digest = compose(storage, AKL, AS_OF)
    storage.close()
    config = smtp(port, smtp_user="hq", smtp_password="s3cret")
    send_email(config, email_message(digest, config.sender, ["manager@example.com", "area@example.com"]))
    [(envelope, message)] = box.messages
    assert envelope.rcpt_tos == ["manager@example.com", "area@example.com"] and box.logins == [("hq", "s3cret")]
    assert message.get_content_type() == "multipart/alternative"
    assert message["Subject"].startswith("Touchpoint weekly digest: Auckland Queen St, Mon 16 Nov")
    assert message["X-Touchpoint-Digest"] == "location=akl-1; week=2026-W47"
    text, html = parts(message)
    week = {"from": "2026-11-16", "to": "2026-11-22", "location": "akl-1", "group_by": "all"}
    [row] = api_get(db, "/api/v1/scores", **week)["rows"]  # what the API says for the same week
    index, n, positive = f"{row['happy_index']:.1f}", row["n"], f"{row['pct_positive']:.1f}"
    assert f"% positive   {positive}" in text and f'data-testid="pct-positive">{positive}%<' in html
    assert f"Happy Index  {index}" in text and f"Question default: {n} answers" in text
    assert f">{index}</span>" in html and f'data-testid="n">{n}<' in html
    assert '<svg class="chart trend" data-testid="trend-chart"' in html and 'data-testid="daily-bars"' in html


def test_a_refused_login_is_a_clear_send_error(db: Path, smtp_server: tuple[Mailbox, int]) -> None:
    box, port = smtp_server
    storage = SqliteStorage(db)
    digest = compose(storage, AKL, AS_OF)
    storage.close()
    config = smtp(port, smtp_user="hq", smtp_password="wrong")
    with pytest.raises(SendError, match=rf"SMTP 127\.0\.0\.1:{port}: SMTPAuthenticationError") as caught:
        send_email(config, email_message(digest, config.sender, ["manager@example.com"]))
    assert "wrong" not in str(caught.value) and box.messages == []


def test_the_webhook_gets_the_facts_with_a_stable_idempotency_key(db: Path, receiver: WebhookReceiver) -> None:
    storage = SqliteStorage(db)
    digest = compose(storage, AKL, AS_OF)
    storage.close()
    first = send_webhook(digest, receiver.url, timeout_s=5)
    second = send_webhook(digest, receiver.url, timeout_s=5)  # a rerun for the same week
    assert first == second and receiver.keys == [first, first]
    body = receiver.received()[0]
    assert body["idempotency_key"] == first and first.startswith("touchpoint-digest-location-akl-1-2026-W47-")
    assert body["text"].startswith(":bar_chart: Touchpoint weekly digest: Auckland Queen St")
    facts = body["digest"]
    assert facts["week"] == {"from": "2026-11-16", "to": "2026-11-22", "iso": "2026-W47"}
    assert facts["scores"][0]["counts"] == [6, 1, 6, 17] and facts["top_reasons"][0]["reason"] == "queue"
    assert [s["available"] for s in facts["sections"]] == [False, False]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_sends_by_email_and_webhook_and_says_where(
    db: Path, smtp_server: tuple[Mailbox, int], receiver: WebhookReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    box, port = smtp_server
    code, _, err = run(
        capsys, "digest", "send", "--now", "--db", str(db), "--location", "akl-1", "--as-of", AS_OF.isoformat(),
        "--email", "manager@example.com", "--webhook", receiver.url,
        "--smtp-host", "127.0.0.1", "--smtp-port", str(port), "--smtp-security", "none", "--smtp-from", "hq@x.example",
    )  # fmt: skip
    assert code == 0, err
    assert f"digest for location akl-1 (Auckland Queen St), week {WEEK[0]}..{WEEK[1]} (2026-W47)" in err
    assert f"e-mailed to manager@example.com via 127.0.0.1:{port} (none)" in err
    assert "posted to webhook http://127.0.0.1:" in err and "secret-path" not in err  # the URL's path is a secret
    [(envelope, message)] = box.messages
    assert envelope.mail_from == "hq@x.example" and parts(message)[0].startswith("Touchpoint weekly digest")
    [body] = receiver.received()
    assert body["digest"]["target"] == {"kind": "location", "id": "akl-1"}


def test_cli_dry_run_prints_the_text_and_sends_nothing(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html = tmp_path / "digest.html"
    code, out, err = run(
        capsys, "digest", "send", "--now", "--db", str(db), "--region", "apac", "--as-of", "2026-11-22T11:30:00Z",
        "--dry-run", "--html-out", str(html),
    )  # fmt: skip
    assert code == 0 and "dry run: nothing sent" in err
    assert out.startswith("Touchpoint weekly digest: apac, Mon 16 Nov") and "akl-2: 83.3" in out
    assert 'data-testid="trend-chart"' in html.read_text()


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--location", "akl-1"], 2, "give --email ADDR and/or --webhook URL, or --dry-run"),
        (
            ["--location", "akl-1", "--email", "a@example.com"],
            2,
            "--email: no SMTP server: set TOUCHPOINT_HUB_SMTP_HOST",
        ),
        (["--location", "akl-1", "--webhook", "ftp://x"], 2, "--webhook: must be an http:// or https:// URL"),
        (["--location", "no such", "--dry-run"], 2, "--location: 'no such' is not a location id"),
        (["--location", "nowhere", "--dry-run"], 1, "error: unknown location 'nowhere'"),
        (["--region", "emea", "--dry-run"], 1, "error: no locations in region 'emea'"),
        (["--region", "apac", "--dry-run", "--as-of", "monday"], 2, "--as-of: 'monday' is not an ISO 8601 time"),
        (["--region", "apac", "--dry-run", "--smtp-port", "0"], 2, "smtp_port (from --smtp-port): Input should be"),
    ],
)
def test_cli_errors_name_the_option(
    db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str], code: int,
    message: str,
) -> None:  # fmt: skip
    monkeypatch.delenv("TOUCHPOINT_HUB_SMTP_HOST", raising=False)
    got, _, err = run(capsys, "digest", "send", "--now", "--db", str(db), *argv)
    assert (got, message in err) == (code, True), err


def test_cli_refuses_a_missing_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.sqlite"
    code, _, err = run(capsys, "digest", "send", "--now", "--db", str(missing), "--location", "a", "--dry-run")
    assert code == 2 and f"--db: no hub database at {missing}" in err and not missing.exists()
