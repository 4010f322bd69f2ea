"""``touchpoint-hub``: serve the API with MQTT ingest, manage tokens, run a local broker."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pydantic import ValidationError

from edge_agent import __version__
from hub.cli_alerts import add_alert_commands, run_alerts
from hub.cli_db import add_db_commands, run_db
from hub.cli_digest import add_digest_commands, run_digest
from hub.cli_effect import add_effect_commands, run_effect
from hub.cli_forecast import add_forecast_commands, run_forecast
from hub.cli_locations import add_location_commands, region_problem, run_location
from hub.core.config import ENV_PREFIX, settings_errors, settings_from
from hub.provisioning.cli import add_broker_actions, add_device_commands, run_broker_action, run_device

EPILOG = f"""examples:
  touchpoint-hub serve --db hub.sqlite --broker mqtt://127.0.0.1:1883 --port 8000
  touchpoint-hub token create --db hub.sqlite --role analyst --name "HQ analytics"
  touchpoint-hub token list --db hub.sqlite
  touchpoint-hub token create --db hub.sqlite --role analyst --region nordics --name "Nordics team"
  touchpoint-hub location add --db hub.sqlite --id helsinki-central --name "Helsinki Central" \
      --region nordics/helsinki --timezone Europe/Helsinki --hours mon-fri=08:00-21:00
  touchpoint-hub location list --db hub.sqlite
  touchpoint-hub broker --port 1883      # a local Mosquitto (or embedded broker) for trials
  touchpoint-hub broker certs --out /etc/touchpoint/certs --host hub.example.com
  touchpoint-hub broker config --db hub.sqlite --out /etc/mosquitto/touchpoint
  touchpoint-hub device add --db hub.sqlite --location helsinki-central --out bundles/ --tar
  touchpoint-hub device list --db hub.sqlite
  touchpoint-hub alerts simulate --seed 1   # each alert rule kind's false alarms and detection delays
  touchpoint-hub forecast backtest --db hub.sqlite   # the forecast's MASE and interval coverage
  touchpoint-hub effect simulate             # how often action-effect verdicts are right
  touchpoint-hub digest send --now --db hub.sqlite --location helsinki-central --email manager@example.com
  touchpoint-hub db copy --from hub.sqlite --to postgresql://touchpoint@db:5432/touchpoint   # move to PostgreSQL

Every serve option can also come from the environment as {ENV_PREFIX}<OPTION>,
e.g. {ENV_PREFIX}BROKER_PASSWORD, so secrets stay out of process listings.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="touchpoint-hub",
        description="Touchpoint HQ hub: ingests taps from the MQTT broker and serves the HQ API.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"touchpoint-hub {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the API and the MQTT ingest in one process")
    serve.add_argument("--db", help="SQLite file path or postgresql://user@host:port/name URL (default hub.sqlite)")
    serve.add_argument("--broker", dest="broker_url", help="mqtt://HOST:PORT or mqtts://HOST:PORT")
    serve.add_argument("--broker-username")
    serve.add_argument("--broker-password", help=f"prefer {ENV_PREFIX}BROKER_PASSWORD")
    serve.add_argument("--broker-ca-file", type=Path)
    serve.add_argument("--mqtt-version", choices=["5", "3.1.1"])
    serve.add_argument("--client-id", help="MQTT client id; its persistent session survives restarts")
    serve.add_argument(
        "--share-group", help="join $share/<group>/ to split ingest across hub workers (with a clean MQTT session)"
    )
    serve.add_argument("--host", help="HTTP bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="HTTP port (default 8000)")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.add_argument(
        "--registry",
        choices=["open", "enforce"],
        help="enforce: refuse devices not provisioned with `device add` (registered ones are always checked)",
    )
    alerting = serve.add_argument_group("alerts and webhooks")
    alerting.add_argument("--alert-interval-s", type=float, help="evaluate alert rules this often (default 5)")
    alerting.add_argument("--webhook-retry-base-s", type=float, help="first webhook retry delay (default 5)")
    alerting.add_argument("--webhook-max-attempts", type=int, help="give a webhook delivery up after this (default 8)")
    alerting.add_argument("--digest-interval-s", type=float, help="look for due scheduled digests this often (60)")

    serve.add_argument(
        "--leader-retry-s",
        type=float,
        help="a follower worker tries to take over singleton work this often (default 2)",
    )

    token = sub.add_parser("token", help="create, list or revoke API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = token_sub.add_parser("create", help="create a token; the secret is printed once, as the last line")
    create.add_argument("--db", required=True, help="SQLite file or postgresql:// URL")
    create.add_argument("--role", choices=["admin", "analyst"], required=True)
    create.add_argument("--name", default="unnamed", help="who or what the token is for")
    create.add_argument("--region", help="limit an analyst token to a region subtree (e.g. nordics)")
    listing = token_sub.add_parser("list", help="list tokens (never their secrets)")
    listing.add_argument("--db", required=True, help="SQLite file or postgresql:// URL")
    revoke = token_sub.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("--db", required=True, help="SQLite file or postgresql:// URL")
    revoke.add_argument("token_id", type=int)

    broker = sub.add_parser("broker", help="run a local MQTT broker for trials (Mosquitto, else embedded)")
    broker.add_argument("--port", type=int, default=1883)
    broker.add_argument("--data-dir", type=Path, default=Path("broker-data"))
    broker.add_argument("--embedded", action="store_true", help="use the embedded amqtt broker (MQTT 3.1.1)")
    add_broker_actions(broker)  # broker certs | broker config
    add_device_commands(sub)  # device add | rotate | revoke | list
    add_location_commands(sub)  # location add | list | update
    add_alert_commands(sub)  # alerts simulate
    add_forecast_commands(sub)  # forecast backtest | show
    add_effect_commands(sub)  # effect simulate
    add_digest_commands(sub)  # digest send --now
    add_db_commands(sub)  # db copy
    return parser


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from hub.app import create_app

    options = {k: v for k, v in vars(args).items() if k != "command"}
    try:
        settings = settings_from(options)
    except ValidationError as exc:
        for line in settings_errors(exc, options):
            print(f"error: {line}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level, access_log=False)
    return 0


def _token(args: argparse.Namespace) -> int:
    from hub.storage import open_storage

    storage = open_storage(args.db)
    try:
        if args.token_command == "create":
            if args.region and args.role == "admin":
                print("error: --region applies to analyst tokens only", file=sys.stderr)
                return 2
            if args.region and (problem := region_problem(args.region)):
                print(f"error: --region: {problem}", file=sys.stderr)
                return 2
            info, secret = storage.create_token(args.name, args.role, args.region)
            print(f"created {info.role} token {info.token_id} ({info.name}); store it now, it is not shown again:")
            print(secret)
        elif args.token_command == "list":
            for t in storage.list_tokens():
                state = f"revoked {t.revoked_at}" if t.revoked_at else "active"
                print(f"{t.token_id}\t{t.role}\t{t.region or '-'}\t{t.name}\t{t.created_at}\t{state}")
        elif args.token_command == "revoke":
            if not storage.revoke_token(args.token_id):
                print(f"error: no active token with id {args.token_id}", file=sys.stderr)
                return 1
            print(f"revoked token {args.token_id}")
    finally:
        storage.close()
    return 0


def _broker(args: argparse.Namespace) -> int:
    import signal
    import threading

    from hub.broker import start_local_broker

    broker, kind = start_local_broker(args.data_dir, args.port, "embedded" if args.embedded else "mosquitto")
    print(f"{kind} broker listening on {broker.url}; Ctrl-C stops it", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        broker.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "token":
        return _token(args)
    if args.command == "location":
        return run_location(args)
    if args.command == "device":
        return run_device(args)
    if args.command == "alerts":
        return run_alerts(args)
    if args.command == "forecast":
        return run_forecast(args)
    if args.command == "effect":
        return run_effect(args)
    if args.command == "digest":
        return run_digest(args)
    if args.command == "db":
        return run_db(args)
    if getattr(args, "broker_command", None):
        return run_broker_action(args)
    return _broker(args)


if __name__ == "__main__":
    sys.exit(main())
