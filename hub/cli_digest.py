"""``touchpoint-hub digest send --now``: one location's or region's weekly digest, by e-mail and/or webhook, now.

The digest covers the last complete local week (Monday..Sunday in the
location's time zone; for a region, the latest week ended in all of its
zones) and its change against the week before. Scheduled sending per
subscription follows once storage keeps subscriptions
(:mod:`hub.services.digest_schedule`).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from hub.core.config import ENV_PREFIX, HubSettings, settings_errors, settings_from
from hub.services.alert_rules import check_webhook_url, redact_url
from hub.services.digest import DigestTarget
from hub.services.digest_compose import DigestError, compose
from hub.services.digest_html import render_html
from hub.services.digest_insights import INSIGHT_SECTIONS
from hub.services.digest_send import SendError, SmtpConfig, email_message, send_email, send_webhook
from hub.services.digest_text import render_text
from hub.services.errors import InputError
from hub.storage.base import Storage

EXAMPLES = f"""examples:
  touchpoint-hub digest send --now --db hub.sqlite --location helsinki-central --dry-run
  touchpoint-hub digest send --now --db hub.sqlite --location helsinki-central --email manager@example.com
  touchpoint-hub digest send --now --db hub.sqlite --region nordics --email a@example.com --email b@example.com \\
      --webhook https://hooks.slack.com/services/T000/B000/XXXX
  touchpoint-hub digest send --now --db hub.sqlite --region nordics --as-of 2026-11-23T08:00Z --html-out digest.html

It holds the score (Happy Index and % positive with 95% CIs, n) of the last complete local week and its change
against the week before, the daily trend chart, the top reasons after negative answers, open alerts, praise,
and (once available) actions with their effects and next week's forecast. The numbers are those of
GET /api/v1/scores and /reasons for the same week.

E-mail settings come from the environment (or the --smtp-* options): {ENV_PREFIX}SMTP_HOST, _PORT,
_SECURITY (starttls | ssl | none), _USER, _PASSWORD (environment only), _FROM.
"""


def add_digest_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    digest = sub.add_parser("digest", help="weekly digests per location or region: send one now")
    actions = digest.add_subparsers(dest="digest_command", required=True, metavar="ACTION")
    send = actions.add_parser(
        "send",
        help="send one weekly digest now, by e-mail and/or webhook",
        description="Send the weekly digest of one location or region now: e-mail (text + HTML) and/or webhook JSON.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    send.add_argument("--now", action="store_true", required=True, help="send now (scheduled sending comes later)")
    send.add_argument("--db", help="the hub's SQLite file or postgresql:// URL (default hub.sqlite)")
    target = send.add_mutually_exclusive_group(required=True)
    target.add_argument("--location", metavar="ID", help="one location's digest")
    target.add_argument("--region", metavar="PATH", help="a region's digest (its whole subtree), e.g. nordics")
    send.add_argument("--email", action="append", default=[], metavar="ADDR", help="e-mail it here (repeatable)")
    send.add_argument("--webhook", action="append", default=[], metavar="URL", help="POST its JSON here (repeatable)")
    send.add_argument("--dry-run", action="store_true", help="print the text version; send nothing")
    send.add_argument("--html-out", type=Path, metavar="FILE", help="also write the HTML version to FILE")
    send.add_argument("--as-of", metavar="TIME", help="ISO 8601 time to take 'last complete week' from (default: now)")
    smtp = send.add_argument_group("e-mail server (default: the environment)")
    smtp.add_argument("--smtp-host")
    smtp.add_argument("--smtp-port", type=int)
    smtp.add_argument("--smtp-security", choices=["starttls", "ssl", "none"])
    smtp.add_argument("--smtp-user")
    smtp.add_argument("--smtp-from", metavar="ADDR")


def _as_of(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"--as-of: {value!r} is not an ISO 8601 time like 2026-11-23T08:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _open_storage(db: str) -> Storage:
    from hub.storage import NoDatabase, open_existing

    try:
        return open_existing(db)
    except NoDatabase as e:
        raise InputError(str(e)) from None


def _settings(args: argparse.Namespace) -> HubSettings:
    options = {name: getattr(args, name) for name in ("db", "smtp_host", "smtp_port", "smtp_security", "smtp_user",
                                                       "smtp_from")}  # fmt: skip
    try:
        return settings_from(options)
    except ValidationError as exc:
        raise InputError("; ".join(settings_errors(exc, options))) from None


def _send(args: argparse.Namespace) -> int:
    if not args.dry_run and not args.email and not args.webhook:
        raise InputError("give --email ADDR and/or --webhook URL, or --dry-run to print the digest")
    for url in args.webhook:
        try:
            check_webhook_url(url)
        except InputError as exc:
            raise InputError(f"--webhook: {str(exc).removeprefix('webhook_url: ')}") from None
    settings = _settings(args)
    try:
        smtp = SmtpConfig.of(settings) if args.email and not args.dry_run else None
    except SendError as exc:
        raise InputError(f"--email: {exc}") from None
    try:
        target = DigestTarget("location", args.location) if args.location else DigestTarget("region", args.region)
    except ValueError as exc:
        raise InputError(f"--{exc}") from None
    storage = _open_storage(settings.db)
    try:
        digest = compose(storage, target, _as_of(args.as_of), sections=INSIGHT_SECTIONS)
    finally:
        storage.close()
    week = f"{digest.week.start}..{digest.week.end}"
    print(f"digest for {target} ({digest.name}), week {week} ({digest.week.iso_week()})", file=sys.stderr)
    if args.html_out:
        args.html_out.write_text(render_html(digest), encoding="utf-8")
        print(f"wrote the HTML version to {args.html_out}", file=sys.stderr)
    if args.dry_run:
        print(render_text(digest), end="")
        print("dry run: nothing sent", file=sys.stderr)
        return 0
    failures = 0
    if smtp is not None:
        try:
            send_email(smtp, email_message(digest, smtp.sender, args.email))
            print(f"e-mailed to {', '.join(args.email)} via {smtp.describe()}", file=sys.stderr)
        except SendError as exc:
            failures += 1
            print(f"error: e-mail to {', '.join(args.email)} failed: {exc}", file=sys.stderr)
    for url in args.webhook:
        try:
            key = send_webhook(digest, url, settings.webhook_timeout_s)
            print(f"posted to webhook {redact_url(url)} (Idempotency-Key {key})", file=sys.stderr)
        except SendError as exc:
            failures += 1
            print(f"error: {exc}", file=sys.stderr)
    return 1 if failures else 0


def run_digest(args: argparse.Namespace) -> int:
    try:
        return _send(args)
    except (InputError, SendError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, InputError) else 1
    except DigestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
