"""Claim codes: what a household types (or scans) to add a light the platform made.

A code is 10 characters of Crockford's base32 (50 random bits), printed as `ABCDE-FGHJK`.
Typing is forgiving the way Crockford intends (case, dashes and spaces do not matter; O reads as
0, I and L as 1). Only a keyed hash (HMAC-SHA256 under SECRET_KEY) is stored, so a copy of the
database does not reveal the codes on the labels.

Wrong guesses are counted per person and per address in the database's rate counters
(accounts/ratelimit.py, one atomic upsert a guess), so every web worker counts toward the same
limit and guesses racing each other are each counted.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.utils.crypto import salted_hmac

from accounts import ratelimit

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 10  # 5 bits a character: 50 bits
_READS_AS = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def normalize(text: str) -> str | None:
    """The code as printed (`ABCDE-FGHJK`), or None when `text` cannot be a code at all."""
    raw = (text or "").upper().translate(_READS_AS)
    if len(raw) != LENGTH or any(ch not in ALPHABET for ch in raw):
        return None
    return f"{raw[:5]}-{raw[5:]}"


def code_hash(code: str) -> str:
    return salted_hmac("smartlight.claim-code", code, algorithm="sha256").hexdigest()


def claim_url(code: str, portal: str | None = None) -> str:
    return f"{(portal or settings.PORTAL_URL).rstrip('/')}/claim/{code}"


# --- guesses ----------------------------------------------------------------------------------
def _counters(user_id: int | None, address: str) -> list[tuple[str, str]]:
    counters = [("claim-guesses:addr", address)]
    if user_id is not None:
        counters.append(("claim-guesses:user", str(user_id)))
    return counters


def _rate() -> ratelimit.Rate:
    return ratelimit.Rate(settings.CLAIM_GUESSES_PER_WINDOW, settings.CLAIM_GUESS_WINDOW_S)


def too_many_guesses(user_id: int | None, address: str) -> bool:
    """True once the person or the address used up the wrong guesses of the window."""
    rate = _rate()
    return any(ratelimit.used(scope, ident, rate) >= rate.requests
               for scope, ident in _counters(user_id, address))


def count_wrong_guess(user_id: int | None, address: str) -> None:
    rate = _rate()
    for scope, ident in _counters(user_id, address):
        ratelimit.hit(scope, ident, rate)
