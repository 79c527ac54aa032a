"""When a schedule runs: pure functions over a trigger, a time zone and an instant.

Times are wall-clock times in the home's IANA time zone. Daylight saving rule (the same in the
portal preview, the local runner and the `rules` mirror):

- a local time that does not exist (spring forward, e.g. 02:30 on the last Sunday of March in
  Europe/Berlin) runs shifted forward by the length of the gap (03:30 local, i.e. the same UTC
  instant the clock would have shown without the jump). This is PEP 495's `fold=0` reading and
  what java.time does; a wake-up light still comes on that morning instead of being skipped;
- a local time that happens twice (fall back, e.g. 02:30 on the last Sunday of October) runs
  once, at its first occurrence (the summer-time one).

AWS fires exactly these instants: the mirror writes each run as a UTC instant and the schedule
Lambda, which bundles this module, computes the following one (schedules/mirror.py). This module
must stay importable without Django.

Every function returns timezone-aware UTC datetimes.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from astral import Observer, SunDirection
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


def trigger_to_dict(trigger: Trigger) -> dict:
    """The trigger as JSON-ready data: what the schedule Lambda needs to find the next run."""
    data: dict = {"kind": trigger.kind, "tz": trigger.tz}
    if trigger.date is not None:
        data["date"] = trigger.date.isoformat()
    if trigger.time is not None:
        data["time"] = trigger.time.strftime("%H:%M")
    if trigger.weekdays:
        data["weekdays"] = sorted(set(trigger.weekdays))
    if trigger.cron:
        data["cron"] = trigger.cron
    if trigger.kind in SUN_KINDS:
        data["offset_minutes"] = trigger.offset_minutes
        data["latitude"] = trigger.latitude
        data["longitude"] = trigger.longitude
    return data


def trigger_from_dict(data: dict) -> Trigger:
    """The inverse of trigger_to_dict; TriggerError on malformed data."""
    if not isinstance(data, dict):
        raise TriggerError("trigger", "The trigger must be an object.")
    try:
        trigger = Trigger(
            kind=str(data["kind"]),
            tz=str(data["tz"]),
            date=dt.date.fromisoformat(data["date"]) if data.get("date") else None,
            time=dt.time.fromisoformat(data["time"]) if data.get("time") else None,
            weekdays=tuple(int(d) for d in data.get("weekdays") or ()),
            cron=str(data.get("cron") or ""),
            offset_minutes=int(data.get("offset_minutes") or 0),
            latitude=None if data.get("latitude") is None else float(data["latitude"]),
            longitude=None if data.get("longitude") is None else float(data["longitude"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise TriggerError("trigger", f"Not a trigger definition: {exc}") from exc
    if trigger.kind not in KINDS:
        raise TriggerError("trigger", f"Unknown trigger {trigger.kind!r}.")
    try:
        trigger.zone  # noqa: B018 - constructing the ZoneInfo is the check
    except (ValueError, KeyError) as exc:
        raise TriggerError("timezone", f"{trigger.tz!r} is not a known time zone.") from exc
    return trigger


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
    while True:
        run = _cron_next(trigger, after)
        if run is None:
            return
        yield run
        after = run


def _cron_next(trigger: Trigger, after: dt.datetime) -> dt.datetime | None:
    """The first cron run after `after`.

    Far from a change of the zone's UTC offset, wall times map to instants one to one and in
    order, so the first matching wall time after `after`'s is the answer (`CronFields`). Within
    MAX_GAP of a spring-forward change the general, buffered walk decides
    (`_cron_runs_buffered`); tests hold the two to the same answers around every change.
    """
    zone = trigger.zone
    fields = CronFields.compile(trigger.cron)
    if fields is not None:
        wall = fields.next_after(after.astimezone(zone).replace(tzinfo=None))
        if wall is None:
            return None
        when = localize(wall, zone)
        change = next_offset_change(zone, after - MAX_GAP)
        if change is None or change > when + MAX_GAP:
            return when
        # Falling back, wall times still map to instants in order (the first occurrence of a
        # repeated time is taken); only a wall time behind `after` (it was read in the second
        # occurrence) needs the general walk. Springing forward, gap times move past others.
        falls_back = utc_offset_at(zone, change) < utc_offset_at(zone, change - MAX_GAP)
        if falls_back and when > after:
            return when
    return next(_cron_runs_buffered(trigger, after), None)


class CronFields:
    """A five-field cron expression of plain values, matched like croniter (day of month and
    day of week are OR-ed when both are restricted, as in Vixie cron) but without building a
    croniter per call: the Lambda and the simulation ask for one next run at a time."""

    def __init__(self, minutes, hours, days, months, weekdays) -> None:
        self.minutes = minutes
        self.hours = hours
        self.days = days  # None = any
        self.months = months  # None = any
        self.weekdays = weekdays  # None = any; 0 = Sunday

    @staticmethod
    @functools.lru_cache(maxsize=1024)
    def compile(expression: str) -> CronFields | None:
        """None for expressions this cannot say (L, W, #, hashes): croniter handles those."""
        try:
            it = croniter(expression)
        except (CroniterBadCronError, CroniterError, ValueError):
            return None
        expanded = it.expanded
        if getattr(it, "nth_weekday_of_month", None) or len(expanded) != 5:
            return None
        sets = []
        for values in expanded:
            if values == ["*"]:
                sets.append(None)
            elif all(isinstance(v, int) for v in values):
                sets.append(tuple(sorted(set(values))))
            else:
                return None
        minutes = sets[0] or tuple(range(60))
        hours = sets[1] or tuple(range(24))
        weekdays = None if sets[4] is None else frozenset(v % 7 for v in sets[4])
        return CronFields(minutes, hours, None if sets[2] is None else frozenset(sets[2]),
                          None if sets[3] is None else frozenset(sets[3]), weekdays)

    def day_matches(self, day: dt.date) -> bool:
        if self.months is not None and day.month not in self.months:
            return False
        dom = self.days is None or day.day in self.days
        dow = self.weekdays is None or (day.isoweekday() % 7) in self.weekdays
        if self.days is not None and self.weekdays is not None:
            return dom or dow
        return dom and dow

    def next_after(self, start: dt.datetime) -> dt.datetime | None:
        """The first matching wall time strictly after the naive `start`."""
        start = start.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        day, hour, minute = start.date(), start.hour, start.minute
        for _ in range(366 * 8):  # 29 February needs up to 8 years (2096 -> 2104)
            if self.day_matches(day):
                for h in self.hours[bisect.bisect_left(self.hours, hour):]:
                    low = minute if h == hour else 0
                    i = bisect.bisect_left(self.minutes, low)
                    if i < len(self.minutes):
                        return dt.datetime.combine(day, dt.time(h, self.minutes[i]))
            day += dt.timedelta(days=1)
            hour = minute = 0
        return None


def _cron_runs_buffered(trigger: Trigger, after: dt.datetime) -> Iterator[dt.datetime]:
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


def _transit(observer: Observer, day: dt.date, direction: SunDirection) -> dt.datetime:
    """The UTC instant the sun's upper limb crosses the horizon near the UTC date `day`.

    astral's own time_of_transit, minus one line: astral folds the result into the UTC date it
    was asked for (`if offset < -720: offset += 1440`), so an event a minute before midnight
    UTC is reported a day late and the real one is never produced (Kolkata's sunrise on
    1 April 2027 at 05:29 local is 23:59 UTC on 31 March). Here the event keeps its own date;
    raises ValueError when the sun does not reach the horizon (polar day or night).
    """
    latitude = max(-89.8, min(89.8, observer.latitude))
    zenith = 90.0 + astral_sun.SUN_APPARENT_RADIUS
    refraction = astral_sun.refraction_at_zenith(zenith)
    jd = astral_sun.julianday(day)
    adjustment = 0.0
    minutes = 0.0
    for _ in range(2):
        jc = astral_sun.julianday_to_juliancentury(jd + adjustment)
        declination = astral_sun.sun_declination(jc)
        hourangle = astral_sun.hour_angle(latitude, declination, zenith + refraction, direction)
        delta = -observer.longitude - math.degrees(hourangle)
        minutes = 720.0 + delta * 4.0 - astral_sun.eq_of_time(jc)
        adjustment = minutes / 1440.0
    return dt.datetime(day.year, day.month, day.day, tzinfo=UTC) + dt.timedelta(minutes=minutes)


def sun_time(trigger: Trigger, day: dt.date) -> dt.datetime | None:
    """Sunrise/sunset on the local `day` plus the offset, or None when there is none that day.

    The local day overlaps up to three UTC dates (offsets run from -12 to +14 hours): the event
    of each is computed and the one on the local `day` is taken. None only when the sun does
    not cross the horizon during the local day.
    """
    observer = Observer(latitude=trigger.latitude, longitude=trigger.longitude)
    direction = SunDirection.RISING if trigger.kind == SUNRISE else SunDirection.SETTING
    zone = trigger.zone
    found = []
    for shift in (-1, 0, 1, 2):
        try:
            event = _transit(observer, day + dt.timedelta(days=shift), direction)
        except ValueError:
            continue  # no crossing around that UTC date
        if event.astimezone(zone).date() == day:
            found.append(event)
    if not found:
        return None
    # Whole minutes, like every other trigger: EventBridge and cron have no seconds.
    event = min(found).replace(second=0, microsecond=0)
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
