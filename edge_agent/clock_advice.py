"""The clock verdict in words, with the fix: for ``touchpoint-agent check`` and the running agent.

Where the clock is not trusted, taps are held on the device and later
quarantined at the hub; without these words that happens silently. Check and
agent share them, so the installer reads the same cause and fix in both.
"""

from __future__ import annotations

from edge_agent.clock import EARLIEST_PLAUSIBLE, ClockVerdict
from edge_agent.redate import HOLD_S

_TIME_SYNC = "enable time sync (`timedatectl set-ntp true` / systemd-timesyncd or chrony)"
_TRUST_RTC = (
    'if this device has a battery-backed RTC or a correct host clock set `[clock] trust = "rtc"` in device.toml'
)
_TRUSTED = {
    "forced": "TOUCHPOINT_CLOCK_OK=1 is set in the environment",
    "rtc": '[clock] trust = "rtc" and the date is plausible',
    "timesyncd": "systemd-timesyncd has synchronised it",
    "kernel_synced": "the kernel reports it synchronised (NTP)",
    "kernel_unknown": "the kernel cannot tell whether it is synchronised, and the date is plausible",
}


def _hold_time() -> str:
    return "an hour" if HOLD_S == 3600 else f"{HOLD_S / 60:g} minutes"


def _cause_and_fix(verdict: ClockVerdict) -> tuple[str, str, str]:
    """(cause, held until what, fix) of an untrusted clock."""
    if verdict.why == "forced":
        return "TOUCHPOINT_CLOCK_OK=0 is set in the environment", "it is unset", "unset it (it is meant for tests)"
    if verdict.why == "implausible":
        cause = (
            f"the wall clock reads {verdict.now:%Y-%m-%d %H:%M} UTC, before {EARLIEST_PLAUSIBLE:%Y-%m-%d}, "
            "so it is certainly wrong"
        )
        return cause, "the clock is right", f"{_TIME_SYNC}, or set the clock (and the RTC, if it has one)"
    return "the kernel reports the clock as not synchronised (no NTP)", "it is", f"{_TIME_SYNC}, or {_TRUST_RTC}"


def clock_state(verdict: ClockVerdict) -> str:
    """A few words for the report's and the manager view's sync line: ok, or why the clock is not trusted."""
    if verdict.ok:
        return "ok"
    if verdict.why == "implausible":
        return f"WRONG (before {EARLIEST_PLAUSIBLE:%Y})"
    if verdict.why == "forced":
        return "NOT TRUSTED (TOUCHPOINT_CLOCK_OK=0)"
    return "NOT SYNCHRONISED"


def check_warning(verdict: ClockVerdict) -> str | None:
    """The ``check`` warning when taps would be held, with the fix; None when the clock is trusted."""
    if verdict.ok:
        return None
    cause, until, fix = _cause_and_fix(verdict)
    return (
        f"WARNING clock: {cause}; taps will be held on this device until {until}, "
        f"and quarantined at the hub after {_hold_time()}. Fix: {fix}."
    )


def agent_note(verdict: ClockVerdict, held: int) -> str:
    """What the agent logs about its clock: why it holds ``held`` taps and the fix, or why it trusts it."""
    if verdict.ok:
        return f"clock trusted: {_TRUSTED[verdict.why]}"
    cause, until, fix = _cause_and_fix(verdict)
    holding = "taps will be held" if held == 0 else f"holding {held} tap{'s' if held > 1 else ''} of this boot"
    return (
        f"clock not trusted: {cause}; {holding} until {until} "
        f"(each for up to {_hold_time()}, then sent and quarantined at the hub). Fix: {fix}."
    )
