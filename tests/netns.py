"""Several "hosts" on one machine for tests: Linux network namespaces on one virtual switch.

Each host is a namespace with loopback and an ``eth0`` (``10.A.B.<n>/24``) plugged into a bridge that lives in
a namespace of its own, so ``cut(host)`` (its switch port down) drops that host's packets silently, as a
pulled cable does, while the others keep talking. The test process itself (root namespace) has a port on
the switch too (``rig.root_address``), so it can reach every host directly. Nothing is left behind: closing
the rig kills what runs in its namespaces and deletes them, which also removes every veth pair.

Needs root (CI runs as root); ``netns_rig`` fails with a clear message elsewhere.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import itertools
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

_HOST_NAME = re.compile(r"[a-z][a-z0-9]{0,11}")
_rig_numbers = itertools.count(1)
_SUBNET_LOCK = Path("/tmp/touchpoint-netns-subnets.lock")  # parallel rigs pick distinct subnets


class NetnsUnavailable(RuntimeError):
    """Network namespaces cannot be made here (not root, or no ``ip``)."""


def _ip(*args: str) -> str:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"`ip {' '.join(args)}` failed: {result.stderr.strip()}")
    return result.stdout


def check_available() -> None:
    """Raise NetnsUnavailable saying why when this process cannot create network namespaces."""
    if os.geteuid() != 0:
        raise NetnsUnavailable("network namespaces need root: run these tests as root (CI does)")
    if subprocess.run(["ip", "-V"], capture_output=True, check=False).returncode != 0:
        raise NetnsUnavailable("`ip` is missing: apt-get install iproute2")


def _root_networks() -> list[ipaddress.IPv4Network]:
    """The IPv4 networks the root namespace has addresses in (the rig's subnet must not overlap them)."""
    networks = []
    for line in _ip("-4", "-o", "addr", "show").splitlines():
        fields = line.split()
        if "inet" in fields:
            networks.append(ipaddress.IPv4Interface(fields[fields.index("inet") + 1]).network)
    return networks


class NetnsRig:
    """Hosts named ``hosts`` as namespaces on one switch; use as a context manager."""

    def __init__(self, hosts: Sequence[str]) -> None:
        for host in hosts:
            if not _HOST_NAME.fullmatch(host):
                raise ValueError(f"host name {host!r}: lower-case letters and digits, max 12, starting with a letter")
        if len(set(hosts)) != len(hosts) or not 1 <= len(hosts) <= 200:
            raise ValueError(f"hosts {list(hosts)!r}: 1 to 200 distinct names")
        self.hosts = list(hosts)
        self.prefix = f"tp{os.getpid()}r{next(_rig_numbers)}"  # namespace names unique per process and rig
        self._switch = f"{self.prefix}-switch"
        self._root_port = self.prefix  # the root namespace's veth; at most 15 characters
        self._subnet = ipaddress.IPv4Network("10.0.0.0/24")
        self._made: list[str] = []
        self._processes: list[subprocess.Popen[Any]] = []

    # -- naming -----------------------------------------------------------------------------------------

    def netns(self, host: str) -> str:
        """The namespace name of ``host`` (for ``ip netns exec``)."""
        if host not in self.hosts:
            raise KeyError(f"no host {host!r} in this rig (hosts: {', '.join(self.hosts)})")
        return f"{self.prefix}-{host}"

    def address(self, host: str) -> str:
        """``host``'s IPv4 address on the switch."""
        self.netns(host)
        return str(self._subnet.network_address + self.hosts.index(host) + 1)

    @property
    def root_address(self) -> str:
        """The test process's own address on the switch."""
        return str(self._subnet.network_address + 254)

    def command_prefix(self, host: str) -> list[str]:
        """Prepend to an argv to run it inside ``host``."""
        return ["ip", "netns", "exec", self.netns(host)]

    # -- building and tearing down ----------------------------------------------------------------------

    def __enter__(self) -> NetnsRig:
        check_available()
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _add_netns(self, name: str) -> None:
        _ip("netns", "add", name)
        self._made.append(name)
        _ip("-n", name, "link", "set", "lo", "up")

    def _build(self) -> None:
        self._add_netns(self._switch)
        _ip("-n", self._switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", self._switch, "link", "set", "br0", "up")
        for index, host in enumerate(self.hosts):
            name = self.netns(host)
            self._add_netns(name)
            port = f"p{index}"
            _ip("-n", self._switch, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", name)
            _ip("-n", self._switch, "link", "set", port, "master", "br0", "up")
        with _SUBNET_LOCK.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # choose a subnet and claim it in the root namespace atomically
            self._subnet = self._free_subnet()
            _ip("link", "add", self._root_port, "type", "veth", "peer", "name", "proot", "netns", self._switch)
            _ip("addr", "add", f"{self.root_address}/24", "dev", self._root_port)
            _ip("link", "set", self._root_port, "up")
        _ip("-n", self._switch, "link", "set", "proot", "master", "br0", "up")
        for host in self.hosts:
            _ip("-n", self.netns(host), "addr", "add", f"{self.address(host)}/24", "dev", "eth0")
            _ip("-n", self.netns(host), "link", "set", "eth0", "up")

    def _free_subnet(self) -> ipaddress.IPv4Network:
        taken = _root_networks()
        start = os.getpid() * 7 + next(_rig_numbers)
        for step in range(200 * 256):
            n = (start + step) % (200 * 256)
            candidate = ipaddress.IPv4Network(f"10.{50 + n // 256}.{n % 256}.0/24")
            if not any(candidate.overlaps(network) for network in taken):
                return candidate
        raise RuntimeError("no free 10.x.y.0/24 subnet for the netns rig")

    def close(self) -> None:
        """Stop every process in the rig's namespaces, then delete them (and with them every veth)."""
        for process in self._processes:
            _stop(process)
        self._processes.clear()
        for name in self._made:
            _kill_all_in(name)
        for name in reversed(self._made):
            with contextlib.suppress(RuntimeError):
                _ip("netns", "delete", name)
        self._made.clear()
        with contextlib.suppress(RuntimeError):  # normally already gone with its peer in the switch namespace
            _ip("link", "delete", self._root_port)

    # -- using it ---------------------------------------------------------------------------------------

    def run(
        self, host: str, argv: Sequence[str], env: Mapping[str, str] | None = None, **popen: Any
    ) -> subprocess.Popen[Any]:
        """Start ``argv`` inside ``host`` (stopped when the rig closes, if still running)."""
        process = subprocess.Popen(
            [*self.command_prefix(host), *argv], env=dict(env) if env is not None else None, **popen
        )
        self._processes.append(process)
        return process

    def cut(self, host: str) -> None:
        """Unplug ``host``: its switch port goes down and its packets are dropped silently."""
        _ip("-n", self._switch, "link", "set", f"p{self.hosts.index(host)}", "down")

    def restore(self, host: str) -> None:
        """Plug ``host`` back in; TCP connections that have not timed out carry on."""
        _ip("-n", self._switch, "link", "set", f"p{self.hosts.index(host)}", "up")


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _kill_all_in(netns: str) -> None:
    """SIGTERM, then SIGKILL, whatever still runs in ``netns`` (grandchildren the rig did not start)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            pids = [int(p) for p in _ip("netns", "pids", netns).split()]
        except RuntimeError:
            return
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and _ip("netns", "pids", netns).split():
            time.sleep(0.05)


RigFactory = Callable[[Sequence[str]], NetnsRig]


@pytest.fixture
def netns_rig() -> Iterator[RigFactory]:
    """``netns_rig(["infra", "w1", "w2"])`` -> a built NetnsRig, closed after the test."""
    try:
        check_available()
    except NetnsUnavailable as exc:
        pytest.fail(str(exc))
    rigs: list[NetnsRig] = []

    def make(hosts: Sequence[str]) -> NetnsRig:
        rig = NetnsRig(hosts).__enter__()
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.close()
