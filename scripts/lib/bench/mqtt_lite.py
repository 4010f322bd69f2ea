"""Just enough MQTT v5 over asyncio streams for thousands of simulated devices in one process.

CONNECT (persistent session), SUBSCRIBE, PUBLISH at QoS 1 with PUBACKs, DISCONNECT: what a kiosk's agent
does, without paho's thread per client.
"""

from __future__ import annotations

import asyncio

CONNACK, PUBLISH, PUBACK, SUBACK = 2, 3, 4, 9
DISCONNECT = b"\xe0\x00"


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def utf8(text: str) -> bytes:
    raw = text.encode()
    return len(raw).to_bytes(2, "big") + raw


def connect(client_id: str, keepalive: int = 600, session_expiry: int = 3600, clean: bool = False) -> bytes:
    props = b"\x11" + session_expiry.to_bytes(4, "big")  # Session Expiry Interval
    head = utf8("MQTT") + bytes([5, 0x02 if clean else 0]) + keepalive.to_bytes(2, "big") + varint(len(props)) + props
    body = head + utf8(client_id)
    return b"\x10" + varint(len(body)) + body


def subscribe(packet_id: int, topic: str, qos: int = 1) -> bytes:
    body = packet_id.to_bytes(2, "big") + b"\x00" + utf8(topic) + bytes([qos])
    return b"\x82" + varint(len(body)) + body


def publish(topic: str, payload: bytes, packet_id: int, retain: bool = False) -> bytes:
    """QoS 1, no properties."""
    body = utf8(topic) + packet_id.to_bytes(2, "big") + b"\x00" + payload
    return bytes([0x32 | int(retain)]) + varint(len(body)) + body


def puback(packet_id: int) -> bytes:
    return b"\x40\x02" + packet_id.to_bytes(2, "big")


async def read_packet(reader: asyncio.StreamReader) -> tuple[int, int, bytes]:
    """(packet type, flags, body) of the next packet."""
    first = (await reader.readexactly(1))[0]
    length, mult = 0, 1
    while True:
        byte = (await reader.readexactly(1))[0]
        length += (byte & 0x7F) * mult
        mult *= 128
        if not byte & 0x80:
            break
    return first >> 4, first & 0x0F, await reader.readexactly(length) if length else b""


def parse_publish(flags: int, body: bytes) -> tuple[str, int | None, bytes]:
    """(topic, packet id or None for QoS 0, payload) of an MQTT v5 PUBLISH body."""
    size = int.from_bytes(body[:2], "big")
    topic = body[2 : 2 + size].decode()
    pos = 2 + size
    packet_id = None
    if (flags >> 1) & 3:
        packet_id = int.from_bytes(body[pos : pos + 2], "big")
        pos += 2
    props, mult = 0, 1
    while True:
        byte = body[pos]
        pos += 1
        props += (byte & 0x7F) * mult
        mult *= 128
        if not byte & 0x80:
            break
    return topic, packet_id, body[pos + props :]
