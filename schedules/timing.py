"""When a schedule runs: pure functions over a trigger, a time zone and an instant.

Times are wall-clock times in the home's IANA time zone. Daylight saving rule (the same in the
portal preview, the local runner and the `rules` mirror):

- a local time that does not exist (spring forward, e.g. 02:30 on the last Sunday of March in
  Europe/Berlin) runs shifted forward by the length of the gap (03:30 local, i.e. the same UTC
  instant the clock would have shown without the jump). This is PEP 495's `fold=0` reading and
  what java.time does; a wake-up light still comes on that morning instead of being skipped;
- a local time that happens twice (fall back, e.g. 02:30 on the last Sunday of October) runs
  once, at its first occurrence (the summer-time one).

EventBridge Scheduler (the `scheduler` backend) applies its own rule to recurring cron
expressions: it skips a non-existent time and runs an ambiguous one once; see schedules/mirror.py.

Every function returns timezone-aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from astral import Observer
from astral import sun as astral_sun
from croniter import croniter
from croniter.croniter import CroniterBadCronError, CroniterBadDateError, CroniterError

UTC = dt.UTC

ONCE = "once"
WEEKLY = "weekly"
CRON = "cron"
SUNRISE = "sunrise"
SUNSET = "sunset"
KINDS = (ONCE, WEEKLY, CRON, SUNRISE, SUNSET)
SUN_KINDS = (SUNRISE, SUNSET)

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# How far ahead a search for the next run goes before it declares that none exists.
SEARCH_DAYS = 400
# The longest daylight-saving gap in the tz database is 2 h (and 3 h for a few historical
# zone changes); a naive wall time can be shifted forward by at most this much.
MAX_GAP = dt.timedelta(hours=3)
# One-off dates: EventBridge's cron year field takes 1970..2199, and these bounds keep every
# time-zone conversion of the date far inside what datetime can represent.
FIRST_DATE = dt.date(1970, 1, 1)
LAST_DATE = dt.date(2199, 12, 31)


class TriggerError(ValueError):
    """A trigger that cannot run; `field` names the input at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Trigger:
    kind: str
    tz: str
    date: dt.date | None = None
    time: dt.time | None = None
    weekdays: tuple[int, ...] = ()
    cron: str = ""
    offset_minutes: int = 0
    latitude: float | None = None
    longitude: float | None = None
    # Filled by next_runs for sun triggers: dates skipped because the sun did not rise/set.
    notes: list[str] = field(default_factory=list, compare=False, hash=False)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)


def localize(naive: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """The UTC instant of a local wall time, by the rule in this module's docstring.

    `fold=0` gives the first occurrence of an ambiguous time and, for a time inside a gap, the
    offset in force before the gap, which lands the instant `gap` later on the new wall clock.
    """
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)


def exists_locally(naive: dt.datetime, zone: ZoneInfo) -> bool:
    aware = naive.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive


def is_ambiguous(naive: dt.datetime, zone: ZoneInfo) -> bool:
    return naive.replace(tzinfo=zone, fold=0).utcoffset() != naive.replace(
        tzinfo=zone, fold=1
    ).utcoffset() and exists_locally(naive, zone)


def validate_cron(expression: str) -> str:
    """A normalised five-field cron expression, or TriggerError saying what is wrong."""
    expression = " ".join(expression.split())
    fields = expression.split(" ") if expression else []
    if len(fields) != 5:
        raise TriggerError(
            "cron",
            f"A cron expression has 5 fields (minute hour day month weekday); got {len(fields)}.",
        )
    if not croniter.is_valid(expression):
        raise TriggerError("cron", f"{expression!r} is not a valid cron expression.")
    try:
        croniter(expression, dt.datetime(2000, 1, 1)).get_next(dt.datetime)
    except (CroniterBadDateError, CroniterError) as exc:
        raise TriggerError("cron", f"{expression!r} never matches a real date.") from exc
    return expression


def validate(trigger: Trigger, now: dt.datetime) -> None:
    """Raise TriggerError when the trigger is incomplete or can never run after `now`."""
    if trigger.kind not in KINDS:
        raise TriggerError("trigger", f"Unknown trigger {trigger.kind!r}.")
    try:
        trigger.zone  # noqa: B018 - constructing the ZoneInfo is the check
    except (ValueError, KeyError) as exc:
        raise TriggerError("timezone", f"{trigger.tz!r} is not a known time zone.") from exc
    if trigger.kind == ONCE:
        if trigger.date is None:
            raise TriggerError("date", "A one-off schedule needs a date.")
        if trigger.time is None:
            raise TriggerError("time", "A one-off schedule needs a time.")
        if not FIRST_DATE <= trigger.date <= LAST_DATE:
            raise TriggerError(
                "date", f"A one-off date must be between {FIRST_DATE} and {LAST_DATE}."
            )
        when = localize(dt.datetime.combine(trigger.date, trigger.time), trigger.zone)
        if when <= now:
            raise TriggerError(
                "date", f"{trigger.date} {trigger.time:%H:%M} ({trigger.tz}) is in the past."
            )
    elif trigger.kind == WEEKLY:
        if not trigger.weekdays:
            raise TriggerError("weekdays", "Choose at least one day of the week.")
        if any(d not in range(7) for d in trigger.weekdays):
            raise TriggerError("weekdays", "Days of the week are 0 (Monday) to 6 (Sunday).")
        if trigger.time is None:
            raise TriggerError("time", "A weekly schedule needs a time.")
    elif trigger.kind == CRON:
        validate_cron(trigger.cron)
    else:
        if trigger.latitude is None or trigger.longitude is None:
            raise TriggerError(
                "trigger",
                "Sunrise and sunset need the home's location: set its latitude and longitude.",
            )
        if not -720 <= trigger.offset_minutes <= 720:
            raise TriggerError("offset_minutes", "The offset is at most 12 hours either way.")
        if not next_runs(trigger, now, 1):
            raise TriggerError(
                "trigger", f"The sun never {_sun_verb(trigger)} here within {SEARCH_DAYS} days."
            )


def next_runs(trigger: Trigger, after: dt.datetime, count: int = 5) -> list[dt.datetime]:
    """The next `count` run instants strictly after `after` (fewer if the trigger ends)."""
    runs: list[dt.datetime] = []
    for run in iter_runs(trigger, after):
        runs.append(run)
        if len(runs) >= count:
            break
    return runs


def next_run(trigger: Trigger, after: dt.datetime) -> dt.datetime | None:
    runs = next_runs(trigger, after, 1)
    return runs[0] if runs else None


def iter_runs(trigger: Trigger, after: dt.datetime) -> Iterator[dt.datetime]:
    after = after.astimezone(UTC)
    if trigger.kind == ONCE:
        if trigger.date and trigger.time and FIRST_DATE <= trigger.date <= LAST_DATE:
            when = localize(dt.datetime.combine(trigger.date, trigger.time), trigger.zone)
            if when > after:
                yield when
        return
    if trigger.kind == WEEKLY:
        yield from _weekly_runs(trigger, after)
    elif trigger.kind == CRON:
        yield from _cron_runs(trigger, after)
    elif trigger.kind in SUN_KINDS:
        yield from _sun_runs(trigger, after)


def _weekly_runs(trigger: Trigger, after: dt.datetime) -> Iterator[dt.datetime]:
    zone = trigger.zone
    days = set(trigger.weekdays)
    if not days or trigger.time is None:
        return
    # Start a day early: a time shifted forward out of a gap can land after midnight.
    day = after.astimezone(zone).date() - dt.timedelta(days=1)
    for _ in range(SEARCH_DAYS):
        if day.weekday() in days:
            when = localize(dt.datetime.combine(day, trigger.time), zone)
            if when > after:
                yield when
        day += dt.timedelta(days=1)


def _cron_runs(trigger: Trigger, after: dt.datetime) -> Iterator[dt.datetime]:
    """Cron matches in local wall time, mapped to instants by `localize`.

    Wall times inside a spring-forward gap move forward and can overtake the next real wall
    times, so matches are buffered until the wall clock is MAX_GAP past them, then released in
    order without duplicates.
    """
    zone = trigger.zone
    start = after.astimezone(zone).replace(tzinfo=None) - MAX_GAP
    try:
        it = croniter(trigger.cron, start)
    except (CroniterBadCronError, CroniterError):
        return
    pending: list[dt.datetime] = []
    released: dt.datetime | None = None
    limit = start + dt.timedelta(days=366 * 8)  # 29 February needs up to 8 years (2096 -> 2104)
    while True:
        try:
            wall = it.get_next(dt.datetime)
        except (CroniterBadDateError, CroniterError):
            wall = None
        if wall is None or wall > limit:
            break
        when = localize(wall, zone)
        if when > after and when not in pending and (released is None or when > released):
            pending.append(when)
        pending.sort()
        horizon = localize(wall - MAX_GAP, zone)
        while pending and pending[0] <= horizon:
            released = pending.pop(0)
            yield released
    yield from pending


def _sun_verb(trigger: Trigger) -> str:
    return "rises" if trigger.kind == SUNRISE else "sets"


def sun_time(trigger: Trigger, day: dt.date) -> dt.datetime | None:
    """Sunrise/sunset on the local `day` plus the offset, or None when there is none that day."""
    observer = Observer(latitude=trigger.latitude, longitude=trigger.longitude)
    fn = astral_sun.sunrise if trigger.kind == SUNRISE else astral_sun.sunset
    try:
        event = fn(observer, date=day, tzinfo=trigger.zone)
    except ValueError:
        # astral raises when the sun stays above (midnight sun) or below (polar night) the
        # horizon all day: there is no such event on this date, so the date is skipped.
        return None
    # Whole minutes, like every other trigger: EventBridge and cron have no seconds.
    event = event.astimezone(UTC).replace(second=0, microsecond=0)
    return event + dt.timedelta(minutes=trigger.offset_minutes)


def _sun_runs(trigger: Trigger, after: dt.datetime) -> Iterator[dt.datetime]:
    if trigger.latitude is None or trigger.longitude is None:
        return
    zone = trigger.zone
    day = after.astimezone(zone).date() - dt.timedelta(days=1)
    missing_from: dt.date | None = None
    for _ in range(SEARCH_DAYS):
        when = sun_time(trigger, day)
        if when is None:
            missing_from = missing_from or day
        else:
            if missing_from is not None and not trigger.notes:
                trigger.notes.append(
                    f"The sun does not {_sun_verb(trigger)[:-1]} from {missing_from:%d %b %Y} to "
                    f"{day - dt.timedelta(days=1):%d %b %Y} here; those days are skipped."
                )
            missing_from = None
            if when > after:
                yield when
        day += dt.timedelta(days=1)


def utc_offset_at(zone: ZoneInfo, instant: dt.datetime) -> dt.timedelta:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None
    return offset


def next_offset_change(zone: ZoneInfo, after: dt.datetime) -> dt.datetime | None:
    """The first instant after `after` at which the zone's UTC offset changes (to the minute),
    or None when it keeps its offset for the next two years."""
    year = after.astimezone(UTC).year
    for y in (year, year + 1, year + 2):
        for change in _offset_changes(zone.key, y):
            if change > after:
                return change
    return None


@functools.lru_cache(maxsize=4096)
def _offset_changes(key: str, year: int) -> tuple[dt.datetime, ...]:
    """Every instant in `year` (UTC) at which the zone's offset changes, to the minute.

    Scans in 12-hour steps (no zone changes offset twice within 12 hours) and bisects each
    change; cached, as the mirror asks this for every schedule it writes."""
    zone = ZoneInfo(key)
    changes = []
    low = dt.datetime(year, 1, 1, tzinfo=UTC)
    end = dt.datetime(year + 1, 1, 1, tzinfo=UTC)
    step = dt.timedelta(hours=12)
    while low < end:
        high = min(low + step, end)
        base = utc_offset_at(zone, low)
        if utc_offset_at(zone, high) != base:
            lo, hi = low, high
            while hi - lo > dt.timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                if utc_offset_at(zone, mid) == base:
                    lo = mid
                else:
                    hi = mid
            changes.append(hi.replace(second=0, microsecond=0))
        low = high
    return tuple(changes)


# --- plain descriptions ---------------------------------------------------------------------
def describe_days(days: tuple[int, ...]) -> str:
    chosen = sorted(set(days))
    if chosen == list(range(7)):
        return "Every day"
    if chosen == [0, 1, 2, 3, 4]:
        return "Weekdays"
    if chosen == [5, 6]:
        return "Weekends"
    return ", ".join(WEEKDAY_NAMES[d] for d in chosen)


def describe(trigger: Trigger) -> str:
    """A plain description such as "Weekdays at 07:00, Europe/Berlin"."""
    tz = trigger.tz
    if trigger.kind == ONCE and trigger.date and trigger.time:
        return f"Once on {trigger.date:%a %d %b %Y} at {trigger.time:%H:%M}, {tz}"
    if trigger.kind == WEEKLY and trigger.time:
        return f"{describe_days(trigger.weekdays)} at {trigger.time:%H:%M}, {tz}"
    if trigger.kind == CRON:
        return f"Cron “{trigger.cron}”, {tz}"
    if trigger.kind in SUN_KINDS:
        event = "sunrise" if trigger.kind == SUNRISE else "sunset"
        minutes = trigger.offset_minutes
        if minutes == 0:
            return f"At {event}, {tz}"
        amount = _duration(abs(minutes))
        return f"{amount} {'before' if minutes < 0 else 'after'} {event}, {tz}"
    return f"Incomplete schedule, {tz}"


def _duration(minutes: int) -> str:
    hours, mins = divmod(minutes, 60)
    if hours and mins:
        return f"{hours} h {mins} min"
    if hours:
        return f"{hours} h"
    return f"{mins} min"
