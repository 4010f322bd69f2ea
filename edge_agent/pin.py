"""The store manager's PIN: stored only as a salted scrypt hash, guessed only slowly."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import time
from dataclasses import dataclass

_N, _R, _P = 2**14, 8, 1
FREE_ATTEMPTS = 3
MAX_LOCK_S = 300.0


def hash_pin(pin: str, *, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$salt$hash``, for ``kiosk.manager_pin_hash`` in device.toml."""
    if not re.fullmatch(r"[0-9]{4,12}", pin):
        raise ValueError("a PIN is 4 to 12 digits")
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    b64 = base64.urlsafe_b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_pin(pin: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(pin.encode(), salt=base64.urlsafe_b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32)
        return hmac.compare_digest(got, base64.urlsafe_b64decode(digest))
    except (ValueError, TypeError):
        return False


@dataclass
class PinGuard:
    """Three free attempts, then a doubling lock-out (5 s, 10 s, ... up to 5 min)."""

    stored_hash: str | None
    failures: int = 0
    locked_until: float = 0.0

    def locked_for(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        return max(0.0, self.locked_until - now)

    def attempt(self, pin: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if self.stored_hash is None or self.locked_for(now) > 0:
            return False
        if verify_pin(pin, self.stored_hash):
            self.failures = 0
            return True
        self.failures += 1
        if self.failures >= FREE_ATTEMPTS:
            self.locked_until = now + min(MAX_LOCK_S, 5.0 * 2 ** (self.failures - FREE_ATTEMPTS))
        return False
