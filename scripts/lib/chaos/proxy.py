"""A TCP link between one MQTT client and the broker, whose network can fail.

- ``cut()``: every open connection is reset and new ones are refused until ``heal()``,
  as when a store's uplink drops.
- ``stall()``: nothing moves, in either direction, but the connections stay open:
  bytes already read are held, not dropped, and TCP backpressure does the rest, as
  on a congested or half-dead path. Keepalive timers notice if it lasts.
"""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import dataclass, field


@dataclass(eq=False)  # hashed by identity: kept in a set
class _Pair:
    client: socket.socket
    upstream: socket.socket
    closed: threading.Event = field(default_factory=threading.Event)

    def close(self, reset: bool = False) -> None:
        self.closed.set()
        for sock in (self.client, self.upstream):
            try:
                if reset:  # RST rather than FIN: the peer sees the connection die
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RD)  # wakes a pump blocked in recv(); close() alone would not
            except OSError:
                pass
            sock.close()


class Link:
    def __init__(self, name: str, target_host: str, target_port: int) -> None:
        self.name = name
        self.target = (target_host, target_port)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._flowing = threading.Event()
        self._flowing.set()
        self._cut = False
        self._pairs: set[_Pair] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name=f"link-{name}", daemon=True)

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def healthy(self) -> bool:
        return not self._cut and self._flowing.is_set()

    def start(self) -> None:
        self._thread.start()

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            pairs, self._pairs = self._pairs, set()
        for pair in pairs:
            pair.close(reset=True)

    def stall(self) -> None:
        self._flowing.clear()

    def heal(self) -> None:
        with self._lock:
            self._cut = False
        self._flowing.set()

    def close(self) -> None:
        self._closed.set()
        self.cut()
        self._flowing.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._cut:
                _Pair(client, client).close(reset=True)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=2)
                upstream.settimeout(None)
            except OSError:  # the broker is down: the client sees its connection fail
                _Pair(client, client).close(reset=True)
                continue
            pair = _Pair(client, upstream)
            with self._lock:
                self._pairs.add(pair)
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(pair, src, dst), daemon=True).start()

    def _pump(self, pair: _Pair, src: socket.socket, dst: socket.socket) -> None:
        try:
            while not pair.closed.is_set():
                self._flowing.wait()
                data = src.recv(65536)
                if not data:
                    break
                self._flowing.wait()  # read just before a stall: held until it heals
                if pair.closed.is_set():
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            pair.close()
            with self._lock:
                self._pairs.discard(pair)
