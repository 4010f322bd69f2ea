"""The processes the demo starts, and the one way they all stop.

Each child runs in its own session, so a Ctrl-C in the terminal reaches only the demo, which then
stops its children in order (agents first, the hub last) and waits for them. Should the demo itself
die without cleaning up (kill -9), the kernel sends each child SIGTERM (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

_PR_SET_PDEATHSIG = 1
# Loaded here, not in the child: between fork and exec only a plain libc call is safe.
_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _die_with_parent() -> None:
    """Runs in the child between fork and exec."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Children:
    def __init__(self, log_dir: Path, env: Mapping[str, str]) -> None:
        self.log_dir = log_dir
        self.env = dict(env)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def spawn(self, name: str, module_args: list[str]) -> subprocess.Popen[bytes]:
        """``python -m <module_args>`` with this interpreter, its output in ``<log_dir>/<name>.log``."""
        with (self.log_dir / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", *module_args],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                start_new_session=True, preexec_fn=_die_with_parent,
            )  # fmt: skip
        self.procs[name] = proc
        return proc

    def stop(self, name: str, timeout: float = 10) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None:
            _stop(proc, timeout)

    def stop_all(self, timeout: float = 10) -> None:
        """Newest first: the agents go before the hub, so they publish their offline status to it."""
        for name in reversed(list(self.procs)):
            self.stop(name, timeout)


def _stop(proc: subprocess.Popen[bytes], timeout: float) -> None:
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
