"""Injecting faults at random, and undoing them after random durations.

Faults overlap: an agent killed during a partition comes back while the
broker may be down. Each recovery is a timer; ``heal_all`` runs the pending
ones at the end of the window so the system can drain.
"""

from __future__ import annotations

import heapq
import itertools
import random
import time
from collections import Counter
from collections.abc import Callable

from chaos import plan
from chaos.stack import Device, Stack

Say = Callable[[str], None]


class Injector:
    def __init__(self, stack: Stack, rng: random.Random, say: Say) -> None:
        self.stack = stack
        self.rng = rng
        self.say = say
        self.counts: Counter[str] = Counter()
        self.replayed_batches = 0
        self._timers: list[tuple[float, int, str, Callable[[], None]]] = []
        self._order = itertools.count()
        self._broker_down = False

    # --- timers ---------------------------------------------------------------

    def later(self, delay_s: float, label: str, action: Callable[[], None]) -> None:
        heapq.heappush(self._timers, (time.monotonic() + delay_s, next(self._order), label, action))

    def tick(self) -> None:
        """Run the recoveries (and clock switches) that are due."""
        while self._timers and self._timers[0][0] <= time.monotonic():
            _, _, _, action = heapq.heappop(self._timers)
            action()

    def heal_all(self) -> None:
        """Run every pending recovery now, in order: the end of the fault window."""
        while self._timers:
            _, _, _, action = heapq.heappop(self._timers)
            action()

    # --- faults ----------------------------------------------------------------

    def inject(self, kind: str) -> bool:
        """Inject one fault of ``kind``; False when there was nothing to inject it into right now."""
        done = {
            plan.KILL_AGENT: self._kill_agent,
            plan.KILL_HUB: self._kill_hub,
            plan.BROKER_RESTART: self._restart_broker,
            plan.BROKER_OUTAGE: self._stop_broker,
            plan.LINK_CUT: lambda: self._break_link(cut=True),
            plan.LINK_STALL: lambda: self._break_link(cut=False),
            plan.REPLAY: self._replay,
        }[kind]()
        if done:
            self.counts[kind] += 1
        return done

    def clock_switch(self, device: Device, phase: plan.ClockPhase) -> Callable[[], None]:
        return lambda: self.clock(device, phase)

    def clock(self, device: Device, phase: plan.ClockPhase) -> None:
        device.switch_clock(phase)
        if phase.fault:
            self.counts[phase.fault] += 1
            clock = f"{phase.offset_s / 86_400:+.1f} days" if phase.offset_s else "right"
            self.say(f"{phase.fault}: {device.spec.device_id} now {clock}, ok={phase.ok}, boot {phase.boot}")

    def _kill_agent(self) -> bool:
        running = [d for d in self.stack.devices if d.agent.running]
        if not running:
            return False
        device = self.rng.choice(running)
        device.agent.kill9()
        back = self.rng.uniform(0.2, 3.0)
        self.say(f"kill -9 agent of {device.spec.device_id}; back in {back:.1f} s")
        self.later(back, "agent", lambda: None if device.agent.running else device.agent.start(device.env()))
        return True

    def _kill_hub(self) -> bool:
        """Freeze the hub (or one of its workers) for a moment, then kill -9 it.

        Frozen, it keeps receiving batches it never acks; with a clean session (workers of a share group)
        Mosquitto drops them when it dies, and only the devices' resend of unacked batches brings them back.
        """
        running = [w for w in self.stack.workers if w.running and not w.frozen]
        if not running:
            return False
        hub = self.rng.choice(running)
        hub.freeze()
        frozen, back = self.rng.uniform(0.5, 2.0), self.rng.uniform(0.5, 3.0)
        self.say(f"kill -9 {hub.name} after {frozen:.1f} s frozen; back {back:.1f} s later")

        def kill() -> None:
            hub.kill9()
            self.later(back, "hub", lambda: None if hub.running else hub.start())

        self.later(frozen, "hub", kill)
        return True

    def _restart_broker(self) -> bool:
        if self._broker_down:
            return False
        self.stack.broker.restart()
        self.say("broker restarted without persistence: sessions and queued messages are gone")
        return True

    def _stop_broker(self) -> bool:
        if self._broker_down:
            return False
        self._broker_down = True
        self.stack.broker.stop()
        back = self.rng.uniform(2.0, 8.0)
        self.say(f"broker stopped; back in {back:.1f} s")

        def start() -> None:
            self.stack.broker.start()
            self._broker_down = False

        self.later(back, "broker", start)
        return True

    def _break_link(self, cut: bool) -> bool:
        healthy = [link for link in self.stack.links if link.healthy]
        if not healthy:
            return False
        link = self.rng.choice(healthy)
        (link.cut if cut else link.stall)()
        back = self.rng.uniform(2.0, 10.0)
        self.say(f"link of {link.name} {'cut' if cut else 'stalled'} for {back:.1f} s")
        self.later(back, "link", link.heal)
        return True

    def _replay(self) -> bool:
        sent = self.stack.replayer.replay(self.rng.randint(5, 40), self.rng)
        if sent:
            self.replayed_batches += sent
            self.say(f"replayed {sent} captured batches in a shuffled order")
        return sent > 0
