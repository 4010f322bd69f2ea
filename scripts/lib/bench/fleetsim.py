"""A fleet of simulated devices in one asyncio process (run by bench.fleet as a child process).

Each device connects as an agent does (MQTT v5, persistent session, its device id as client id),
subscribes to its ack topic, publishes a retained online status, then sends heartbeats (statuses) and
taps (one-event batches, as a live kiosk sends them) and times each tap until the hub's ack arrives.
A sample of devices also pings itself through the broker (publish to a topic it subscribes to): the
broker's round trip under the same load, the limit for the ack latency.
Prints JSON lines: {"event": "connected", ...}, {"event": "steady", ...}, {"event": "done", ...}.
Several processes can share one fleet (bench.ceiling): ``--first`` numbers their devices apart, ``--source``
gives each its own loopback address (ephemeral ports run out at ~28k per source address and destination),
and ``--wait-go`` holds the steady phase until a line arrives on stdin, so that all start it together.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import sys
import time
from datetime import UTC, datetime

from bench import mqtt_lite as m
from bench.payloads import ZONES
from edge_agent import clock
from edge_agent.protocol import format_ts

ECHO_DEVICES = 100
IP_BIND_ADDRESS_NO_PORT = 24  # Linux: pick the source port at connect(), per destination, not at bind()


class Device:
    def __init__(self, index: int, stats: dict[str, list[float]]) -> None:
        self.id = f"fleet-{index:05d}"
        self.location = f"fleet-loc-{index // 10:04d}"
        self.zone = ZONES[(index // 10) % len(ZONES)]
        self.base = f"touchpoint/v1/{self.location}/{self.id}"
        self.echo = f"bench/echo/{self.id}" if index < ECHO_DEVICES else None
        self.stats = stats
        self.sent: dict[str, float] = {}
        self.packet_id = 0
        self.seq = 0
        self.writer: asyncio.StreamWriter | None = None
        self.reading: asyncio.Task[None] | None = None

    def _next_id(self) -> int:
        self.packet_id = self.packet_id % 65_535 + 1
        return self.packet_id

    async def connect(self, port: int, gate: asyncio.Semaphore, source: str | None, timeout: float) -> float:
        async with gate:
            started = time.monotonic()
            return await asyncio.wait_for(self._handshake(port, source, started), timeout)

    async def _handshake(self, port: int, source: str | None, started: float) -> float:
        if source is None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                sock.bind((source, 0))
                sock.setblocking(False)
                await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
            except BaseException:
                sock.close()
                raise
            reader, writer = await asyncio.open_connection(sock=sock)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            writer.write(m.connect(self.id))
            kind, _, body = await m.read_packet(reader)
            if kind != m.CONNACK or body[1] != 0:
                raise ConnectionError(f"{self.id}: CONNACK {kind} reason {body[1:2]!r}")
            for i, topic in enumerate(t for t in (f"{self.base}/ack", self.echo) if t):
                writer.write(m.subscribe(i + 1, topic))
                kind, _, _ = await m.read_packet(reader)
                if kind != m.SUBACK:
                    raise ConnectionError(f"{self.id}: expected SUBACK, got {kind}")
        except BaseException:
            writer.close()  # a timed-out or refused handshake must not keep its socket
            raise
        self.writer = writer
        self.packet_id = 2
        took = time.monotonic() - started
        self.reading = asyncio.create_task(self._read(reader))
        self.status()
        return took

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                kind, flags, body = await m.read_packet(reader)
                if kind != m.PUBLISH:
                    continue
                topic, packet_id, payload = m.parse_publish(flags, body)
                now = time.monotonic()
                if topic == self.echo:
                    self.stats["ping"].append(now - float(payload))
                else:
                    sent = self.sent.pop(json.loads(payload)["batch_id"], None)
                    if sent is not None:
                        self.stats["ack"].append(now - sent)
                if packet_id is not None and self.writer is not None:
                    self.writer.write(m.puback(packet_id))
        except (asyncio.IncompleteReadError, ConnectionError):
            return

    def send(self, topic: str, payload: bytes, retain: bool = False) -> None:
        if self.writer is not None:
            self.writer.write(m.publish(topic, payload, self._next_id(), retain))

    def status(self) -> None:
        body = {"v": 1, "online": True, "device_id": self.id, "location_id": self.location, "version": "bench",
                "backlog": 0, "clock_ok": True, "ts": format_ts(datetime.now(UTC))}  # fmt: skip
        self.send(f"{self.base}/status", json.dumps(body).encode(), retain=True)

    def tap(self, rng: random.Random) -> None:
        self.seq += 1
        now = datetime.now(UTC)
        event = {"id": clock.uuid7(), "seq": self.seq, "ts": format_ts(now), "tz": self.zone, "clock_ok": True,
                 "question_id": "default", "scale": 4, "value": rng.randrange(4), "reason": None, "source": "touch",
                 "misuse": False, "survey_version": None, "boot_id": "fleet", "mono_ms": self.seq}  # fmt: skip
        batch_id = clock.uuid7()
        body = {"v": 1, "device_id": self.id, "location_id": self.location, "batch_id": batch_id, "events": [event]}
        self.sent[batch_id] = time.monotonic()
        self.send(f"{self.base}/events", json.dumps(body, separators=(",", ":")).encode())
        self.stats["taps"].append(1.0)

    def ping(self) -> None:
        if self.echo:
            self.send(self.echo, repr(time.monotonic()).encode())


def emit(**fields: object) -> None:
    print(json.dumps({**fields, "t": time.monotonic()}), flush=True)


async def steady(devices: list[Device], seconds: float, taps_per_s: float, status_s: float) -> None:
    rng = random.Random(1)
    tick = 0.02
    carry = {"tap": 0.0, "status": 0.0, "ping": 0.0}
    rates = {"tap": taps_per_s, "status": len(devices) / status_s, "ping": float(min(ECHO_DEVICES, len(devices)))}
    next_status = 0
    last = time.monotonic()
    end = last + seconds
    while last < end:
        now = time.monotonic()
        elapsed, last = now - last, now  # a loaded loop sleeps longer than its tick: send what is due
        for kind, rate in rates.items():
            carry[kind] += rate * elapsed
            while carry[kind] >= 1:
                carry[kind] -= 1
                if kind == "tap":
                    rng.choice(devices).tap(rng)
                elif kind == "status":
                    devices[next_status % len(devices)].status()
                    next_status += 1
                else:
                    devices[rng.randrange(min(ECHO_DEVICES, len(devices)))].ping()
        await asyncio.sleep(tick)


async def main(args: argparse.Namespace) -> None:
    stats: dict[str, list[float]] = {"ack": [], "ping": [], "taps": []}
    devices = [Device(args.first + i, stats) for i in range(args.devices)]
    gate = asyncio.Semaphore(args.concurrency)
    started = time.monotonic()
    handshakes = (d.connect(args.port, gate, args.source, args.connect_timeout) for d in devices)
    results = await asyncio.gather(*handshakes, return_exceptions=True)
    took = [r for r in results if isinstance(r, float)]
    failed = [repr(r) for r in results if not isinstance(r, float)]
    emit(event="connected", seconds=time.monotonic() - started, connected=len(took), failed=len(failed),
         errors=failed[:3], each_p50=sorted(took)[len(took) // 2] if took else None,
         each_max=max(took) if took else None)  # fmt: skip
    live = [d for d in devices if d.writer is not None]
    if args.wait_go:
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await asyncio.sleep(args.settle)
    stats["ack"].clear()
    emit(event="steady")
    await steady(live, args.duration, args.taps_per_s, args.status_s)
    emit(event="steady_end")
    await asyncio.sleep(2.0)  # the last acks
    unacked = sum(len(d.sent) for d in live)
    emit(event="done", ack=stats["ack"], ping=stats["ping"], taps=len(stats["taps"]), unacked=unacked)
    for d in live:
        if d.writer is not None:
            d.writer.write(m.DISCONNECT)
            d.writer.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--devices", type=int, default=10_000)
    p.add_argument("--first", type=int, default=0, help="index of this process's first device (several processes)")
    p.add_argument("--source", help="loopback source address to connect from, e.g. 127.0.0.11")
    p.add_argument("--connect-timeout", type=float, default=60.0, help="seconds for one device's handshake")
    p.add_argument("--wait-go", action="store_true", help="after connecting, start the steady phase on a stdin line")
    p.add_argument("--concurrency", type=int, default=500, help="connection handshakes in flight at once")
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--settle", type=float, default=5.0, help="seconds after connecting before the steady phase")
    p.add_argument("--taps-per-s", type=float, default=200.0, help="fleet-wide")
    p.add_argument("--status-s", type=float, default=60.0, help="each device's heartbeat interval")
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(p.parse_args()))
    sys.exit(0)
