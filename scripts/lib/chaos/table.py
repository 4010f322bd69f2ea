"""The chaos run's result as a plain-text table."""

from __future__ import annotations

import statistics
from collections import Counter

from chaos import plan
from chaos.check import Report

CLOCK_FAULTS = (plan.WRONG_AT_BOOT, plan.REBOOT, plan.NTP_JUMP, plan.LYING_AHEAD, plan.LYING_OLD)


def render(title: str, report: Report, faults: Counter[str], replayed: int, drained: bool) -> str:
    rows: list[tuple[str, str]] = [
        ("taps recorded (union of device stores)", f"{report.taps}"),
        ("  misuse: stored, never counted", f"{report.misuse}"),
        ("  re-dated on the device (clock fixed in the same boot)", f"{report.redated}"),
        ("faults injected", f"{sum(faults.values())}"),
    ]
    for kind in (*plan.RANDOM_FAULTS, *CLOCK_FAULTS):
        extra = f"  ({replayed} batches)" if kind == plan.REPLAY else ""
        rows.append((f"  {kind}", f"{faults.get(kind, 0)}{extra}"))
    causes = " / ".join(f"{report.by_cause.get(c, 0)} {c}" for c in ("clock_not_ok", "future", "before_floor"))
    delays = report.delays_s
    delay = f"{max(delays):.1f} s (median {statistics.median(delays):.1f} s)" if delays else "-"
    rows += [
        ("lost", f"{report.lost}"),
        ("double-counted", f"{report.double_counted}"),
        ("rollup mismatches", f"{report.rollup_mismatches}"),
        ("quarantined at the hub (expected)", f"{report.quarantined} ({report.expected_quarantine})"),
        ("  by cause", causes),
        ("quarantine mismatches", f"{report.quarantine_mismatches}"),
        ("counted on a wrong local day", f"{report.wrong_day}"),
        ("at the hub but on no device", f"{report.phantom}"),
        ("not synced at the end", f"{report.unsynced}"),
        ("dead letters", f"{report.dead_letters}"),
        ("hub workers whose API disagrees with the first", f"{report.api_disagreements}"),
        ("max sync delay, tap to hub commit", delay),
    ]
    verdict = "PASS" if report.ok and drained else "FAIL"
    if not drained:
        rows.append(("drained in time", "no"))
    width = max(len(k) for k, _ in rows) + 2
    lines = [f"{title}: {verdict}", "-" * (width + 24)]
    lines += [f"{k.ljust(width)}{v}" for k, v in rows]
    if report.examples:
        lines += ["", "first problems:", *(f"  {e}" for e in report.examples)]
    return "\n".join(lines)
