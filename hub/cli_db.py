"""``touchpoint-hub db copy``: move a hub's data from its SQLite file to PostgreSQL, then prove it arrived.

The copying and checking are :mod:`hub.storage.copy` and :mod:`hub.storage.copy_verify`; this
module parses the options, draws the progress bar and prints the verification.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hub.cli_db_report import print_verification
from hub.storage import postgres_url

EXAMPLES = """example:
  touchpoint-hub db copy --from hub.sqlite --to postgresql://touchpoint@db.example.com:5432/touchpoint

moving a running hub to PostgreSQL:
  1. run the command while the SQLite hub keeps running: it copies the bulk, table by table,
     in primary-key order, a chunk per transaction (progress on stderr);
  2. stop the SQLite hub (devices keep their taps until a hub acknowledges them);
  3. run the same command again: it copies only what arrived or changed since, then verifies;
  4. start the hub workers on the URL: touchpoint-hub serve --db postgresql://... --share-group hub

Interrupting it (Ctrl-C, kill -9) is safe and so is running it again: events, quarantine and
dead letters resume above the highest id already copied and never duplicate; rollups are counted
from the events each chunk inserts, in the same transaction, so they are never added twice; the
other tables are upserted by primary key and rows deleted from the source are deleted. Ids (alert,
delivery, token...) and webhook bodies are kept as they are, so Idempotency-Keys do not change, and
PostgreSQL's id sequences are moved past the copied ids. The target's tables come from the hub's
normal migrations; copy into a new database, not one that hub workers already write to.

At the end it compares both sides (row counts per table, every row of the small tables, and the
rollups per location and local day) and prints the result.
exit status: 0 everything matches; 1 differences (listed); 2 bad options or the copy could not run.
"""


def add_db_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``db copy``, under the main parser's sub-commands."""
    db = sub.add_parser(
        "db",
        help="database tools: copy a hub from SQLite to PostgreSQL",
        description="Database tools.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    copy = actions.add_parser(
        "copy",
        help="copy a hub's SQLite database into PostgreSQL (resumable), then verify",
        description="Copy every table of a hub's SQLite database into PostgreSQL, resumably, then verify the copy.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    copy.add_argument("--from", dest="source", required=True, type=Path, help="the hub's SQLite file (hub.sqlite)")
    copy.add_argument("--to", dest="target", required=True, help="postgresql://user@host:port/database")
    copy.add_argument(
        "--chunk-size", type=int, default=5000, help="rows per transaction (default 5000; a kill loses at most one)"
    )


def run_db(args: argparse.Namespace) -> int:
    problem = _check(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    return _copy(args.source, postgres_url(args.target) or args.target, args.chunk_size)


def _check(args: argparse.Namespace) -> str | None:
    if postgres_url(args.target) is None:
        return f"--to: expected a postgresql:// URL, got {args.target!r}"
    if postgres_url(args.source) is not None:
        return "--from: expected the hub's SQLite file, got a PostgreSQL URL"
    if not args.source.is_file():
        return f"--from: no such file: {args.source}"
    if args.chunk_size < 1:
        return f"--chunk-size: must be at least 1, got {args.chunk_size}"
    return None


def _copy(source_path: Path, url: str, chunk_size: int) -> int:
    import psycopg
    from psycopg_pool import PoolTimeout

    from edge_agent.migrate import SchemaTooNewError
    from hub.cli_progress import ProgressBar
    from hub.storage.copy import Copier, plans
    from hub.storage.copy_tables import CopyError
    from hub.storage.copy_verify import verify
    from hub.storage.postgres import PostgresStorage
    from hub.storage.sqlite import SqliteStorage

    try:
        source = SqliteStorage(source_path)
    except (SchemaTooNewError, OSError, RuntimeError) as exc:
        print(f"error: --from {source_path}: {exc}", file=sys.stderr)
        return 2
    try:
        try:
            target = PostgresStorage(url, pool_size=2)
        except (PoolTimeout, psycopg.Error, SchemaTooNewError) as exc:
            print(f"error: --to: cannot open {_safe(url)}: {exc}", file=sys.stderr)
            return 2
        try:
            print(f"copying {source_path} to {_safe(url)}", file=sys.stderr)
            Copier(source, target, ProgressBar(), chunk_size).run()
            result = verify(source, target, plans(source, target))
        except CopyError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        finally:
            target.close()
    finally:
        source.close()
    return print_verification(result, source_path, _safe(url))


def _safe(url: str) -> str:
    """The URL without a password, for printing."""
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if at and ":" in credentials:
        credentials = credentials.split(":", 1)[0] + ":***"
    return f"{scheme}://{credentials}{at}{host}"
