"""A private PostgreSQL cluster on a free loopback port, for tests, the demo, chaos runs and benchmarks.

Standard library only: scripts/demo imports it before any database driver is installed, so it talks to
the server through ``psql`` from the same bin directory as ``initdb``. PostgreSQL refuses to run as root,
so as root (as CI runs) ``initdb`` and ``pg_ctl`` run as the ``postgres`` OS user through ``runuser``,
on a data directory that user owns and can reach.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

PG_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "postgres"  # the bootstrap superuser initdb creates, whoever runs it
APP_ROLE = "touchpoint"
OS_USER = "postgres"  # the OS user the server runs as when we are root
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
START_TIMEOUT_S = 60
PORT_ATTEMPTS = 5


class PgMissing(RuntimeError):
    """PostgreSQL's server binaries are not installed; the message says how to install them."""


class PgError(RuntimeError):
    """A PostgreSQL command failed; the message carries its output (and the server log when starting)."""


def install_line() -> str:
    """The exact command that installs PostgreSQL on this machine's Debian."""
    return "apt-get install postgresql" if os.geteuid() == 0 else "sudo apt-get install postgresql"


def find_pg_bin() -> Path:
    """The newest ``/usr/lib/postgresql/<N>/bin`` that has ``initdb``."""
    found: list[tuple[int, Path]] = []
    for bin_dir in PG_ROOT.glob("*/bin"):
        if bin_dir.parent.name.isdigit() and (bin_dir / "initdb").is_file():
            found.append((int(bin_dir.parent.name), bin_dir))
    if not found:
        raise PgMissing(f"PostgreSQL is not installed (no {PG_ROOT}/<version>/bin/initdb): run `{install_line()}`")
    return max(found)[1]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no server log at {path}: {exc})"


class PgCluster:
    """One PostgreSQL server with its own data directory, listening on ``host``:``port`` only.

    ``command_prefix`` runs every command through a wrapper, e.g. ``["ip", "netns", "exec", NS]`` to put the
    server in a network namespace; ``host`` is then that namespace's address (127.0.0.1 by default).
    """

    def __init__(
        self, datadir: Path, port: int | None = None, host: str = "127.0.0.1", command_prefix: Sequence[str] = ()
    ) -> None:
        self.datadir = Path(datadir).absolute()
        self.port = port if port is not None else free_port()
        self._port_chosen = port is None  # ours to change if another process binds it before the server does
        self.host = host
        self.command_prefix = list(command_prefix)
        self.bin = find_pg_bin()
        self.as_root = os.geteuid() == 0
        self.log_path = self.datadir / "server.log"
        self._socket_dir: Path | None = None
        self._role_ready = False

    # -- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> None:
        """Initialise the data directory if it is empty, then start the server and wait until it accepts."""
        self._prepare_datadir()
        if not (self.datadir / "PG_VERSION").exists():
            self._initdb()
        self._socket_dir = Path(tempfile.mkdtemp(prefix="tp-pg-sock-"))  # short: socket paths max 107 bytes
        self._hand_over(self._socket_dir)
        for attempt in range(1, PORT_ATTEMPTS + 1):
            logged = self.log_path.stat().st_size if self.log_path.exists() else 0
            result = self._pg_ctl_start()
            if result.returncode == 0:
                break
            lost_port = "Address already in use" in self._log_since(logged)
            if not (lost_port and self._port_chosen and attempt < PORT_ATTEMPTS):
                self._remove_socket_dir()
                raise PgError(
                    f"PostgreSQL did not start on {self.host}:{self.port} (pg_ctl exit {result.returncode}):\n"
                    f"{result.stdout}{result.stderr}\n--- {self.log_path} (last lines) ---\n{_tail(self.log_path)}"
                )
            # The free port we chose was bound by someone else meanwhile (an outgoing connection's ephemeral
            # port, another test's server): choose again.
            self.port = free_port()
        atexit.register(self.stop)

    def _log_since(self, offset: int) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def _pg_ctl_start(self) -> subprocess.CompletedProcess[str]:
        assert self._socket_dir is not None
        options = " ".join(
            [
                f"-p {self.port}",
                f"-k {self._socket_dir}",
                f"-c listen_addresses={self.host}",
                "-c fsync=on",
                "-c max_connections=200",
                # A client cut off mid-handshake leaves a backend waiting for its startup packet, and a fast
                # shutdown waits for it: 5 s instead of the default minute keeps stop() quick after chaos.
                "-c authentication_timeout=5s",
            ]
        )
        wait = ["-w", "-t", str(START_TIMEOUT_S)]
        return self._run_as_server_user(
            ["pg_ctl", "-D", str(self.datadir), "-l", str(self.log_path), "-o", options, *wait, "start"]
        )

    def stop(self) -> None:
        """Fast shutdown (open connections are cut); does nothing when the server is not running."""
        atexit.unregister(self.stop)
        if (self.datadir / "postmaster.pid").exists():
            result = self._run_as_server_user(["pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "stop"])
            if result.returncode != 0 and (self.datadir / "postmaster.pid").exists():
                raise PgError(f"pg_ctl stop failed (exit {result.returncode}):\n{result.stdout}{result.stderr}")
        self._remove_socket_dir()

    def __enter__(self) -> PgCluster:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- databases --------------------------------------------------------------------------------------

    def url(self, name: str) -> str:
        """The URL the application uses for database ``name``: role ``touchpoint``, no password (trust)."""
        return f"postgresql://{APP_ROLE}@{self.host}:{self.port}/{name}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create an empty database owned by ``touchpoint`` (copied from ``template`` if given); its URL."""
        _check_name("database name", name)
        if template is not None:
            _check_name("template", template)
        self._ensure_app_role()
        clause = f" TEMPLATE {template}" if template is not None else ""
        self.psql(f"CREATE DATABASE {name} OWNER {APP_ROLE}{clause}")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name`` even while clients are connected (they are disconnected); missing is fine."""
        _check_name("database name", name)
        self.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL as the superuser through ``psql``; its unaligned, tuples-only output."""
        psql = [*self.command_prefix, str(self.bin / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        connect = ["-h", self.host, "-p", str(self.port), "-U", SUPERUSER, "-d", database]
        result = subprocess.run(
            [*psql, *connect, "-c", sql],
            capture_output=True,
            text=True,
            env=_clean_env(),
            check=False,
        )
        if result.returncode != 0:
            raise PgError(f"psql on {self.host}:{self.port} failed for {sql!r}: {result.stderr.strip()}")
        return result.stdout

    def _ensure_app_role(self) -> None:
        if self._role_ready:
            return
        self.psql(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN "
            f"CREATE ROLE {APP_ROLE} LOGIN SUPERUSER; END IF; END $$"
        )
        self._role_ready = True

    # -- running as the server's OS user ----------------------------------------------------------------

    def _prepare_datadir(self) -> None:
        if self.datadir.exists() and any(self.datadir.iterdir()) and not (self.datadir / "PG_VERSION").exists():
            raise PgError(f"{self.datadir} is neither empty nor a PostgreSQL data directory")
        self.datadir.mkdir(parents=True, exist_ok=True)
        self.datadir.chmod(0o700)
        self._hand_over(self.datadir)

    def _hand_over(self, directory: Path) -> None:
        """As root: give ``directory`` to the postgres user and make every parent traversable (o+x).

        Not under pytest's ``tmp_path`` as root: each new pytest session resets /tmp/pytest-of-root to 0700,
        which locks the server out of its own files mid-run (tests use the ``pg_datadir`` fixture instead).
        """
        if not self.as_root:
            return
        if shutil.which("runuser") is None:
            raise PgError("running PostgreSQL as root needs `runuser` (util-linux) to drop to the postgres user")
        try:
            shutil.chown(directory, user=OS_USER, group=None)
        except LookupError as exc:
            raise PgError(f"the `{OS_USER}` OS user is missing; it comes with `{install_line()}`") from exc
        for parent in directory.parents:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:
                parent.chmod(mode | stat.S_IXOTH)

    def _run_as_server_user(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / argv[0]), *argv[1:]]
        if self.as_root:
            command = ["runuser", "-u", OS_USER, "--", *command]
        command = [*self.command_prefix, *command]
        # cwd "/": the postgres user cannot enter root's home, and initdb warns about it.
        return subprocess.run(command, capture_output=True, text=True, env=_clean_env(), cwd="/", check=False)

    def _initdb(self) -> None:
        result = self._run_as_server_user(
            ["initdb", "-D", str(self.datadir), "-A", "trust", "-E", "UTF8", "--locale=C", "-U", SUPERUSER]
        )
        if result.returncode != 0:
            raise PgError(f"initdb {self.datadir} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}")
        # initdb trusts loopback only; a server in a network namespace also serves its subnet's hosts.
        with (self.datadir / "pg_hba.conf").open("a") as hba:
            hba.write("host all all samenet trust\n")

    def _remove_socket_dir(self) -> None:
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None


def _check_name(what: str, name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ValueError(f"{what} {name!r}: use lower-case letters, digits and _ (max 63, not starting with a digit)")


def _clean_env() -> dict[str, str]:
    """This process's environment without libpq variables that would redirect psql to another server."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}
