"""Fixed-window rate limits counted in the database, shared by every worker process.

One atomic upsert per hit (`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`, on PostgreSQL and
SQLite alike), so concurrent workers never lose a count.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from django.db import connection

from accounts.models import RateCounter

# Only fixed, quoted identifiers are formatted in; the values are parameters.
_UPSERT = (
    'INSERT INTO "accounts_ratecounter" ("key", "expires", "count") VALUES (%s, %s, 1) '
    'ON CONFLICT ("key") DO UPDATE SET "count" = "accounts_ratecounter"."count" + 1 '
    'RETURNING "count"'
)
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    requests: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        """`"600/m"`, `"5/15m"`: requests per period (s, m, h or d, with an optional count)."""
        try:
            requests, period = text.strip().split("/")
            unit = period[-1]
            return cls(int(requests), int(period[:-1] or 1) * _PERIODS[unit])
        except (ValueError, KeyError, IndexError) as exc:
            raise ValueError(f"bad rate {text!r}: expected e.g. '600/m' or '5/15m'") from exc


def _window(scope: str, ident: str, rate: Rate, now: float) -> tuple[str, int]:
    """The counter's key for the window `now` falls in, and when that window ends."""
    window = int(now // rate.seconds)
    digest = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{scope}:{rate.seconds}:{digest}:{window}", (window + 1) * rate.seconds


def hit(scope: str, ident: str, rate: Rate, now: float | None = None) -> float | None:
    """Counts one hit; None while within `rate`, else the seconds until the window ends."""
    now = time.time() if now is None else now
    key, expires = _window(scope, ident, rate, now)
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT, [key, expires])
        (count,) = cursor.fetchone()
    if count == 1:
        # A new window began: windows that have ended are of no further use to anyone.
        RateCounter.objects.filter(expires__lt=int(now)).delete()
    if count > rate.requests:
        return max(expires - now, 1.0)
    return None


def used(scope: str, ident: str, rate: Rate, now: float | None = None) -> int:
    """How many hits the current window has counted so far (without counting one)."""
    now = time.time() if now is None else now
    key, _expires = _window(scope, ident, rate, now)
    return RateCounter.objects.filter(key=key).values_list("count", flat=True).first() or 0
