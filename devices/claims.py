"""Claim codes: what a household types (or scans) to add a light the platform made.

A code is 10 characters of Crockford's base32 (50 random bits), printed as `ABCDE-FGHJK`.
Typing is forgiving the way Crockford intends (case, dashes and spaces do not matter; O reads as
0, I and L as 1). Only a keyed hash (HMAC-SHA256 under SECRET_KEY) is stored, so a copy of the
database does not reveal the codes on the labels.

Guesses are counted per person and per address in the shared cache, so every web worker counts
toward the same limit.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.cache import cache
from django.utils.crypto import salted_hmac

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
def _keys(user_id: int | None, address: str) -> list[str]:
    keys = [f"claim-guesses:addr:{address}"]
    if user_id is not None:
        keys.append(f"claim-guesses:user:{user_id}")
    return keys


def too_many_guesses(user_id: int | None, address: str) -> bool:
    """True once the person or the address used up the wrong guesses of the window."""
    limit = settings.CLAIM_GUESSES_PER_WINDOW
    counts = cache.get_many(_keys(user_id, address))
    return any(count >= limit for count in counts.values())


def count_wrong_guess(user_id: int | None, address: str) -> None:
    window = settings.CLAIM_GUESS_WINDOW_S
    for key in _keys(user_id, address):
        # add() starts the window. Redis increments atomically; the database cache reads then
        # writes, so guesses racing each other may be counted once: a brake on guessing that
        # may let a handful more through, never one that locks out a person who typed right.
        cache.add(key, 0, timeout=window)
        try:
            cache.incr(key)
        except ValueError:  # expired between the two calls: a new window starts
            cache.add(key, 1, timeout=window)

