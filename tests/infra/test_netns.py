"""The network-namespace rig (tests/netns.py): hosts reach each other over TCP, cut() stops it, nothing is left."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from tests.netns import NetnsRig, RigFactory

PORT = 7100
ECHO_SERVER = f"""
import socket
server = socket.create_server(("0.0.0.0", {PORT}))
print("ready", flush=True)
while True:
    conn, _ = server.accept()
    with conn:
        conn.sendall(conn.recv(100))
"""
ECHO_CLIENT = f"""
import socket, sys
with socket.create_connection((sys.argv[1], {PORT}), timeout=1) as conn:
    conn.sendall(b"hello")
    assert conn.recv(100) == b"hello"
"""


def _echo_from(rig: NetnsRig, host: str, target: str) -> bool:
    """Whether ``host`` gets an echo back from ``target``'s server within about a second."""
    client = rig.run(host, [sys.executable, "-c", ECHO_CLIENT, rig.address(target)], stderr=subprocess.DEVNULL)
    return client.wait(timeout=10) == 0


def _echo_from_root(rig: NetnsRig, target: str) -> bool:
    try:
        with socket.create_connection((rig.address(target), PORT), timeout=1) as conn:
            conn.sendall(b"hi")
            return conn.recv(100) == b"hi"
    except OSError:
        return False


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its reaper does not count)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout


def test_hosts_talk_over_tcp_until_cut_and_again_after_restore(netns_rig: RigFactory) -> None:
    rig = netns_rig(["infra", "w1", "w2"])
    server = rig.run("infra", [sys.executable, "-c", ECHO_SERVER], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None and server.stdout.readline() == "ready\n"

    assert _echo_from(rig, "w1", "infra")
    assert _echo_from(rig, "w2", "infra")
    assert _echo_from_root(rig, "infra")
    assert not _echo_from(rig, "w1", "w2")  # nothing listens there: the clients do fail

    rig.cut("w1")
    assert not _echo_from(rig, "w1", "infra")
    assert _echo_from(rig, "w2", "infra")  # only w1 is unplugged
    rig.restore("w1")
    assert _echo_from(rig, "w1", "infra")

    rig.cut("infra")
    assert not _echo_from_root(rig, "infra")
    rig.restore("infra")
    assert _echo_from_root(rig, "infra")


def test_closing_leaves_no_namespace_link_or_process_behind() -> None:
    with NetnsRig(["infra", "w1"]) as rig:
        server = rig.run("infra", [sys.executable, "-c", ECHO_SERVER], stdout=subprocess.PIPE, text=True)
        assert rig.prefix in _namespaces()
        # A grandchild the rig did not start itself is stopped too.
        shell = rig.run("w1", ["sh", "-c", "sleep 300 & echo $!; wait"], stdout=subprocess.PIPE, text=True)
        assert shell.stdout is not None
        grandchild = int(shell.stdout.readline())
    assert rig.prefix not in _namespaces()
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    assert rig.prefix not in links
    assert server.poll() is not None
    assert not _alive(grandchild)


def test_a_failure_while_in_use_still_cleans_up() -> None:
    prefix = ""
    try:
        with NetnsRig(["a"]) as rig:
            prefix = rig.prefix
            raise KeyError("boom")
    except KeyError:
        pass
    assert prefix and prefix not in _namespaces()
