"""Synthetic device batches in the agent's wire format (every field the agent sends), made once per run.

Each payload carries the placeholder ``@`` as the first hex digit of every event id and the first digit
of every seq; ``for_round`` swaps in a digit, so each measured round sends new ids and seqs with no
re-encoding.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from edge_agent import clock
from edge_agent.protocol import format_ts

ZONES = ["Europe/Helsinki", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "Asia/Kolkata", "UTC"]
REASONS = ["queue", "staff", "cleanliness", "price", "product"]


@dataclass(frozen=True)
class Message:
    topic: str
    template: bytes
    events: int

    def for_round(self, digit: int) -> bytes:
        return self.template.replace(b"@", str(digit).encode())


def device_of(index: int) -> tuple[str, str, str]:
    """(location_id, device_id, zone) of simulated device ``index``: two kiosks per location."""
    location = index // 2
    return f"bench-loc-{location}", f"bench-dev-{index}", ZONES[location % len(ZONES)]


def event_json(n: int, ms: int, zone: str, rng: random.Random, boot: str) -> str:
    value = rng.choices(range(4), weights=(8, 12, 35, 45))[0]
    reason = f'"{rng.choice(REASONS)}"' if value <= 1 and rng.random() < 0.5 else "null"
    misuse = "true" if rng.random() < 0.01 else "false"
    uid = "@" + clock.uuid7(ms)[1:]
    ts = format_ts(datetime.fromtimestamp(ms / 1000, UTC))
    return (
        f'{{"id":"{uid}","seq":@{n:012d},"ts":"{ts}","tz":"{zone}","clock_ok":true,"question_id":"default",'
        f'"scale":4,"value":{value},"reason":{reason},"source":"touch","misuse":{misuse},"survey_version":null,'
        f'"boot_id":"{boot}","mono_ms":{ms % 86_400_000}}}'
    )


def make_messages(count: int, devices: int = 40, per_message: int = 100, seed: int = 7) -> list[Message]:
    """``count`` batches of ``per_message`` events, round-robin over ``devices`` kiosks, in time order."""
    rng = random.Random(seed)
    base_ms = (int(time.time()) // 3600 - 72) * 3_600_000  # three days ago: neither future nor too old
    boot = "6f1c2a9e-0d4b-4c11-9a57-2b0c7d1e9f30"
    messages = []
    n = 0
    for m in range(count):
        location, device, zone = device_of(m % devices)
        parts = []
        for _ in range(per_message):
            n += 1
            parts.append(event_json(n, base_ms + n * 7, zone, rng, boot))
        batch_id = clock.uuid7(base_ms + n * 7)[:-1] + "@"
        body = (
            f'{{"v":1,"device_id":"{device}","location_id":"{location}","batch_id":"{batch_id}",'
            f'"events":[{",".join(parts)}]}}'
        )
        messages.append(Message(f"touchpoint/v1/{location}/{device}/events", body.encode(), per_message))
    return messages
