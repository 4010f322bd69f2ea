"""``touchpoint-agent``: run the sync daemon, record a tap, print today's report, check a config."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path

from edge_agent import __version__
from edge_agent.config import ConfigError, DeviceConfig, load_config
from edge_agent.report import day_report, format_report
from edge_agent.store import DeviceStore, StoreError

EPILOG = """examples:
  touchpoint-agent run --config /etc/touchpoint/device.toml
  touchpoint-agent tap --config device.toml --value 3
  touchpoint-agent report --config device.toml
  touchpoint-agent check --config device.toml
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="touchpoint-agent",
        description="Touchpoint device agent: stores taps locally and syncs them to the hub exactly once.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"touchpoint-agent {__version__}")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--config", "-c", type=Path, required=True, help="path to device.toml")
        return p

    with_config("run", "run the sync daemon until stopped (SIGTERM or Ctrl-C)")
    tap = with_config("tap", "record one tap durably in the local store (for testing a device)")
    tap.add_argument("--value", type=int, required=True, help="button index, 0 = most negative")
    tap.add_argument("--question", help="question id (default: the config's survey.question_id)")
    tap.add_argument("--scale", type=int, help="4, 5 or 11 (default: the config's survey.scale)")
    tap.add_argument("--reason", help="follow-up reason to store with the tap")
    tap.add_argument("--source", default="cli", choices=["touch", "button", "cli", "sim"])
    report = with_config("report", "print a day's scores from the local store, offline")
    report.add_argument("--day", help="local day YYYY-MM-DD (default: today in the device's time zone)")
    report.add_argument("--json", action="store_true", help="print JSON instead of text")
    with_config("check", "validate the config and open the store; exit 0 when the device is ready")
    return parser


def _run(config: DeviceConfig) -> int:
    from edge_agent.sync import SyncAgent  # paho only where it is needed

    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        logging.getLogger("touchpoint.agent").info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    SyncAgent(config).run(stop)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    try:
        config = load_config(args.config)
        if args.command == "run":
            return _run(config)
        with DeviceStore(config.store.path, config.timezone) as store:
            if args.command == "tap":
                event = store.record(
                    args.value,
                    args.question or config.survey.question_id,
                    args.scale or config.survey.scale,
                    source=args.source,
                    reason=args.reason,
                )
                print(json.dumps({"stored": True, "id": event.id, "seq": event.seq, "value": event.value}))
            elif args.command == "report":
                report = day_report(store, args.day)
                if args.json:
                    print(json.dumps(report, indent=2))
                else:
                    print(format_report(report, config.device_id, config.location_id))
            elif args.command == "check":
                print(
                    f"ok: device {config.device_id} at {config.location_id} ({config.timezone}), "
                    f"store {config.store.path} (backlog {store.backlog()}), broker {config.broker.url}"
                )
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except (StoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
