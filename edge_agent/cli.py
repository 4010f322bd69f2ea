"""``touchpoint-agent``: run the sync daemon, record a tap, print today's report, check a config, hash a PIN."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from edge_agent import __version__, clock_advice
from edge_agent.config import ConfigError, DeviceConfig, load_config
from edge_agent.store import DeviceStore, StoreError

EPILOG = """examples:
  touchpoint-agent run --config /etc/touchpoint/device.toml
  touchpoint-agent tap --config device.toml --value 3
  touchpoint-agent report --config device.toml
  touchpoint-agent check --config device.toml
  touchpoint-agent pin-hash            # prompts twice; prints the line for device.toml

exit status: 0 done (check: the device is ready; a warning on stderr, e.g. an untrusted clock that
holds taps, names a fix but does not fail), 1 the store cannot be used, 2 a bad config or usage
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
    with_config(
        "check",
        "validate the config and open the store; exit 0 when the device is ready. Warns on stderr, with "
        "the fix, when taps would be held (an untrusted clock); a warning does not change the exit status",
    )
    pin = sub.add_parser(
        "pin-hash",
        help="hash a manager PIN for kiosk.manager_pin_hash in device.toml",
        description="Hash a manager PIN (4 to 12 digits) with scrypt and print the device.toml line. "
        "The PIN itself is never stored; only this hash goes into the config.",
    )
    pin.add_argument(
        "--pin-stdin", action="store_true", help="read the PIN from the first line of stdin instead of prompting"
    )
    return parser


def _pin_hash(from_stdin: bool) -> int:
    """Print ``kiosk.manager_pin_hash = "scrypt$..."``; exit 2 on a PIN that cannot be used."""
    import getpass  # here, as the other commands' imports: the sync daemon loads only what it runs

    from edge_agent.pin import hash_pin

    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            print("error: no PIN on stdin", file=sys.stderr)
            return 2
        pin = line.strip()
    else:
        try:
            pin = getpass.getpass("Manager PIN (4-12 digits): ")
            again = getpass.getpass("Repeat the PIN: ")
        except EOFError:
            print("\nerror: no PIN entered", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(file=sys.stderr)
            return 130
        if again != pin:
            print("error: the two PINs differ; nothing printed", file=sys.stderr)
            return 2
    if not pin.isascii():  # str.isdigit() also takes digits a keypad cannot type, e.g. "١٢٣٤" or "²"
        print("error: a PIN is 4 to 12 digits 0-9", file=sys.stderr)
        return 2
    try:
        hashed = hash_pin(pin)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f'kiosk.manager_pin_hash = "{hashed}"')
    print(
        "paste the line above near the top of device.toml, before any [section]; if the file has a [kiosk] "
        'section already, put manager_pin_hash = "..." inside it instead',
        file=sys.stderr,
    )
    return 0


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
    if args.command == "pin-hash":
        return _pin_hash(args.pin_stdin)
    try:
        config = load_config(args.config)
        if args.command == "run":
            return _run(config)
        import json

        from edge_agent.report import day_report, format_report

        with DeviceStore.for_device(config) as store:
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
                warning = clock_advice.check_warning(store.clock_verdict())
                if warning:
                    print(warning, file=sys.stderr)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except (StoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
