"""edge_agent.pin (scrypt PIN hashes, the lock-out) and `touchpoint-agent pin-hash`."""

from __future__ import annotations

import base64
import hashlib
import io
import subprocess
import sys
import tomllib

import pytest

from edge_agent.cli import main
from edge_agent.config import parse_config
from edge_agent.pin import FREE_ATTEMPTS, MAX_LOCK_S, PinGuard, hash_pin, verify_pin

SALT = bytes(range(16))


@pytest.fixture(scope="module")
def stored() -> str:
    return hash_pin("2468")


@pytest.fixture(scope="module")
def cheap() -> str:
    """A hash of "2468" with a tiny scrypt cost, so lock-out tests run fast; the cost travels in the hash."""
    digest = hashlib.scrypt(b"2468", salt=SALT, n=16, r=1, p=1, dklen=32)
    b64 = base64.urlsafe_b64encode
    return f"scrypt$16$1$1${b64(SALT).decode()}${b64(digest).decode()}"


def test_the_cost_parameters_are_read_from_the_stored_hash(cheap: str) -> None:
    """So raising the cost in a later release keeps old hashes in device.toml working."""
    assert verify_pin("2468", cheap) is True
    assert verify_pin("2469", cheap) is False


def test_hash_layout_and_verify(stored: str) -> None:
    kind, n, r, p, salt, digest = stored.split("$")
    assert (kind, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(base64.urlsafe_b64decode(salt)) == 16
    assert len(base64.urlsafe_b64decode(digest)) == 32
    assert "2468" not in stored
    assert verify_pin("2468", stored) is True


@pytest.mark.parametrize("wrong", ["2469", "24680", "0000", "", "2468 "])
def test_a_wrong_pin_does_not_verify(stored: str, wrong: str) -> None:
    assert verify_pin(wrong, stored) is False


def test_the_salt_makes_hashes_differ_and_is_reproducible() -> None:
    assert hash_pin("1234", salt=SALT) == hash_pin("1234", salt=SALT)
    assert hash_pin("1234", salt=SALT) != hash_pin("1234", salt=bytes(16))
    assert hash_pin("1234") != hash_pin("1234")  # random salt by default


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "garbage",
        "scrypt$16384$8$1$onlyfive",
        "bcrypt$16384$8$1$AAAA$AAAA",
        "scrypt$many$8$1$AAAA$AAAA",
        "scrypt$16384$8$1$***$AAAA",  # not base64
        "scrypt$1000$8$1$AAAAAAAA$AAAA",  # N not a power of two
        "scrypt$1048576$8$1$AAAAAAAA$AAAA",  # would need 1 GiB: refused, not attempted
    ],
)
def test_a_malformed_hash_never_verifies_and_never_raises(bad: str) -> None:
    assert verify_pin("1234", bad) is False


@pytest.mark.parametrize("pin", ["123", "1234567890123", "12a4", "", "12 34", "-1234", "12.4"])
def test_pin_validation(pin: str) -> None:
    with pytest.raises(ValueError, match="4 to 12 digits"):
        hash_pin(pin, salt=SALT)


@pytest.mark.parametrize("pin", ["\u0661\u0662\u0663\u0664", "12\u00b34"])
def test_pins_a_keypad_cannot_type_are_refused(pin: str) -> None:
    with pytest.raises(ValueError, match="4 to 12 digits"):
        hash_pin(pin, salt=SALT)


@pytest.mark.parametrize("pin", ["1234", "123456789012", "0000"])
def test_valid_pins(pin: str) -> None:
    assert verify_pin(pin, hash_pin(pin, salt=SALT))


def test_guard_lock_out_doubles_and_is_capped(cheap: str) -> None:
    guard = PinGuard(cheap)
    now = 100.0
    for _ in range(FREE_ATTEMPTS - 1):
        assert guard.attempt("0000", now) is False
        assert guard.locked_for(now) == 0.0
    expected = [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, MAX_LOCK_S, MAX_LOCK_S]
    seen = []
    for _ in expected:
        assert guard.attempt("0000", now) is False
        seen.append(guard.locked_for(now))
        now += guard.locked_for(now)  # wait it out exactly
    assert seen == expected


def test_guard_refuses_even_the_right_pin_while_locked_without_counting(cheap: str) -> None:
    guard = PinGuard(cheap)
    for _ in range(FREE_ATTEMPTS):
        guard.attempt("1111", now=10.0)
    assert guard.locked_for(10.0) == 5.0
    assert guard.attempt("2468", now=14.9) is False
    assert guard.failures == FREE_ATTEMPTS  # a refused attempt while locked is not another failure
    assert guard.locked_for(14.9) == pytest.approx(0.1)
    assert guard.attempt("2468", now=15.0) is True
    assert guard.failures == 0
    # After a success the free attempts are back.
    assert guard.attempt("1111", now=15.0) is False
    assert guard.locked_for(15.0) == 0.0


def test_guard_without_a_configured_pin_never_opens() -> None:
    guard = PinGuard(None)
    assert guard.attempt("2468", now=0.0) is False
    assert guard.failures == 0


def test_guard_uses_the_monotonic_clock_by_default(cheap: str) -> None:
    guard = PinGuard(cheap)
    assert guard.attempt("2468") is True
    assert guard.locked_for() == 0.0


# --- touchpoint-agent pin-hash ----------------------------------------------------


def pasted(line: str) -> str:
    """The printed line, pasted into a device.toml: the hash the config would load."""
    data = tomllib.loads('device_id = "k1"\nlocation_id = "s1"\n' + line)
    config = parse_config(data)
    assert config.kiosk.manager_pin_hash is not None
    return config.kiosk.manager_pin_hash


def test_pin_hash_from_stdin_prints_a_line_that_pastes_into_device_toml(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("8642\n"))
    assert main(["pin-hash", "--pin-stdin"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith('kiosk.manager_pin_hash = "scrypt$16384$8$1$') and out.count("\n") == 1
    assert verify_pin("8642", pasted(out))
    assert not verify_pin("8643", pasted(out))
    assert "device.toml" in err and "8642" not in out + err


@pytest.mark.parametrize(
    ("stdin", "message"),
    [("12ab\n", "4 to 12 digits"), ("", "no PIN on stdin"), ("1\n", "4 to 12"), ("\u0661\u0662\u0663\u0664\n", "0-9")],
)
def test_pin_hash_rejects_bad_input_with_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, stdin: str, message: str
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    assert main(["pin-hash", "--pin-stdin"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert message in err


def test_pin_hash_prompts_twice_and_refuses_a_mismatch(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = iter(["1357", "1358"])
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    assert main(["pin-hash"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "differ" in err
    assert len(prompts) == 2 and "4-12 digits" in prompts[0]

    answers = iter(["1357", "1357"])
    assert main(["pin-hash"]) == 0
    out, _ = capsys.readouterr()
    assert verify_pin("1357", pasted(out))


def test_pin_hash_as_a_real_process() -> None:
    """The console entry point, with the PIN piped in as a provisioning script would."""
    done = subprocess.run(
        [sys.executable, "-m", "edge_agent.cli", "pin-hash", "--pin-stdin"],
        input="97531\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert verify_pin("97531", pasted(done.stdout))
