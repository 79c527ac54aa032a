"""An independent model of when EventBridge fires, and in-memory EventBridge clients.

Written from the AWS documentation, not from schedules/mirror.py:
- Rules: `cron(Minutes Hours Day-of-month Month Day-of-week Year)` evaluated in UTC; one of
  day-of-month and day-of-week must be `?`; day-of-week 1-7 is SUN-SAT; wildcards `, - * ? /`,
  `L` (last day of the month; `nL` the last weekday n), `#` (nth weekday)
  (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html).
- Scheduler: the same cron fields and `at(yyyy-mm-ddThh:mm:ss)`, both evaluated in the schedule's
  `ScheduleExpressionTimezone`. Around daylight saving: a local time that does not exist
  (spring forward) is skipped; one that happens twice (fall back) runs once, here at its first
  occurrence (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html,
  "Daylight saving time").
- Both fire within the minute (60-second precision); a resource fires for minutes that start
  after it was written (a write inside a minute does not fire that minute).
Scheduler delivers its Input with `<aws.scheduler.scheduled-time>` replaced by the scheduled
time; a rule delivers its target's constant Input unchanged.
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
import json
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from botocore.exceptions import ClientError

UTC = dt.UTC
MONTHS = {n: i for i, n in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1)}
DAYS = {n: i for i, n in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}
MINUTE = dt.timedelta(minutes=1)
ONE_OFF = re.compile(r"cron\((\d+) (\d+) (\d+) (\d+) \? (\d{4})\)")


def _values(spec: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    found: set[int] = set()
    for part in spec.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/")
            step = int(step_text)
        if part == "*":
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-")
            start, end = _one(a, names), _one(b, names)
        else:
            start = _one(part, names)
            end = high if step != 1 else start
        if not (low <= start <= high and low <= end <= high):
            raise ValueError(f"{part!r} is outside {low}-{high}")
        found.update(range(start, end + 1, step))
    return found


def _one(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    return int(text)


@dataclass(frozen=True)
class AwsCron:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    dom: str
    months: frozenset[int]
    dow: str
    years: frozenset[int]

    @staticmethod
    def parse(expression: str) -> AwsCron:
        one_off = ONE_OFF.fullmatch(expression)
        if one_off:  # the common case, parsed without the general machinery
            minute, hour, day, month, year = (int(v) for v in one_off.groups())
            dt.date(year, month, day)  # raises for a date that does not exist
            if minute > 59 or hour > 23:
                raise ValueError(f"no such time: {expression!r}")
            return AwsCron((minute,), (hour,), str(day), frozenset((month,)), "?",
                           frozenset((year,)))
        match = re.fullmatch(r"cron\((.*)\)", expression)
        if not match:
            raise ValueError(f"not a cron expression: {expression!r}")
        fields = match.group(1).split()
        if len(fields) != 6:
            raise ValueError(f"AWS cron has 6 fields: {expression!r}")
        minute, hour, dom, month, dow, year = fields
        if (dom == "?") == (dow == "?"):
            raise ValueError(f"exactly one of day-of-month and day-of-week is '?': {expression!r}")
        cron = AwsCron(
            tuple(sorted(_values(minute, 0, 59))),
            tuple(sorted(_values(hour, 0, 23))),
            dom,
            frozenset(_values(month, 1, 12, MONTHS)),
            dow.upper(),
            frozenset(_values(year, 1970, 2199)),
        )
        cron.day_matches(dt.date(2027, 1, 1))  # parses the day fields, raises when malformed
        return cron

    def day_matches(self, day: dt.date) -> bool:
        if day.year not in self.years or day.month not in self.months:
            return False
        last = calendar.monthrange(day.year, day.month)[1]
        if self.dow == "?":
            if self.dom == "L":
                return day.day == last
            if self.dom.isdigit():
                return day.day == int(self.dom)
            return day.day in _values(self.dom, 1, 31)
        aws_dow = day.isoweekday() % 7 + 1  # SUN = 1 .. SAT = 7
        if self.dow.endswith("L"):
            return aws_dow == _one(self.dow[:-1], DAYS) and day.day + 7 > last
        if "#" in self.dow:
            weekday, nth = self.dow.split("#")
            return aws_dow == _one(weekday, DAYS) and (day.day - 1) // 7 + 1 == int(nth)
        return aws_dow in _values(self.dow, 1, 7, DAYS)

    def next_wall(self, start: dt.datetime) -> dt.datetime | None:
        """The first matching wall time at or after the naive, whole-minute `start`."""
        day, hour, minute = start.date(), start.hour, start.minute
        if len(self.years) == 1 and len(self.months) == 1 and self.dom.isdigit():
            # One date: straight to it.
            (year,), (month,) = self.years, self.months
            target = dt.date(year, month, int(self.dom))
            if target < day:
                return None
            if target > day:
                day, hour, minute = target, 0, 0
        end_year = max(self.years)
        while day.year <= end_year:
            if day.year not in self.years:
                day, hour, minute = dt.date(day.year + 1, 1, 1), 0, 0
                continue
            if day.month not in self.months:
                following = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
                day, hour, minute = following, 0, 0
                continue
            if self.day_matches(day):
                for h in self.hours[bisect.bisect_left(self.hours, hour):]:
                    low = minute if h == hour else 0
                    i = bisect.bisect_left(self.minutes, low)
                    if i < len(self.minutes):
                        return dt.datetime.combine(day, dt.time(h, self.minutes[i]))
            day, hour, minute = day + dt.timedelta(days=1), 0, 0
        return None


def _ceil_minute(instant: dt.datetime) -> dt.datetime:
    floor = instant.replace(second=0, microsecond=0)
    return floor if floor == instant else floor + MINUTE


def _instant(wall: dt.datetime, zone: ZoneInfo) -> dt.datetime | None:
    """Scheduler's reading of a local wall time: None in a gap, the first one in an overlap."""
    first = wall.replace(tzinfo=zone, fold=0)
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return first.astimezone(UTC)


def next_fire(expression: str, zone_name: str, written: dt.datetime,
              after: dt.datetime) -> dt.datetime | None:
    """The first instant after `after` at which this expression fires, for a resource written
    at `written`, evaluated in `zone_name` (UTC for rules)."""
    start = max(_ceil_minute(written), after.replace(second=0, microsecond=0) + MINUTE)
    zone = ZoneInfo(zone_name)
    at = re.fullmatch(r"at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)", expression)
    if at:
        wall = dt.datetime.fromisoformat(at.group(1))
        when = _instant(wall, zone)
        return when if when is not None and when >= start else None
    cron = AwsCron.parse(expression)
    # Start three hours early in wall time: an overlap can put earlier wall times later.
    wall = start.astimezone(zone).replace(tzinfo=None) - dt.timedelta(hours=3)
    while True:
        wall = cron.next_wall(wall)
        if wall is None:
            return None
        when = _instant(wall, zone)
        if when is not None and when >= start:
            return when
        wall += MINUTE


# --- in-memory clients with the AWS APIs' shapes ---------------------------------------------
def _not_found(operation: str, what: str) -> ClientError:
    return ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": what}},
                       operation)


@dataclass
class Resource:
    expression: str
    timezone: str
    state: str
    written: dt.datetime
    input: str = ""
    extra: dict = field(default_factory=dict)


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now


class FakeEvents:
    """put_rule / put_targets / describe_rule / list_targets_by_rule / remove_targets /
    delete_rule / list_rules, stored in memory."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.rules: dict[str, Resource] = {}
        self.calls = 0

    def put_rule(self, Name, ScheduleExpression, State="ENABLED", Description=""):  # noqa: N803
        AwsCron.parse(ScheduleExpression)
        self.calls += 1
        rule = self.rules.get(Name)
        if rule is None:
            self.rules[Name] = Resource(ScheduleExpression, "UTC", State, self.clock.now,
                                        extra={"targets": []})
        else:
            rule.expression, rule.state, rule.written = ScheduleExpression, State, self.clock.now
        return {"RuleArn": f"arn:aws:events:::rule/{Name}"}

    def put_targets(self, Rule, Targets):  # noqa: N803
        if Rule not in self.rules:
            raise _not_found("PutTargets", Rule)
        self.calls += 1
        rule = self.rules[Rule]
        kept = [t for t in rule.extra["targets"] if t["Id"] not in {n["Id"] for n in Targets}]
        rule.extra["targets"] = kept + [dict(t) for t in Targets]
        rule.input = rule.extra["targets"][0].get("Input", "")
        return {"FailedEntryCount": 0, "FailedEntries": []}

    def describe_rule(self, Name):  # noqa: N803
        if Name not in self.rules:
            raise _not_found("DescribeRule", Name)
        rule = self.rules[Name]
        return {"Name": Name, "ScheduleExpression": rule.expression, "State": rule.state}

    def list_targets_by_rule(self, Rule):  # noqa: N803
        if Rule not in self.rules:
            raise _not_found("ListTargetsByRule", Rule)
        return {"Targets": [dict(t) for t in self.rules[Rule].extra["targets"]]}

    def remove_targets(self, Rule, Ids):  # noqa: N803
        if Rule not in self.rules:
            raise _not_found("RemoveTargets", Rule)
        rule = self.rules[Rule]
        rule.extra["targets"] = [t for t in rule.extra["targets"] if t["Id"] not in Ids]
        return {"FailedEntryCount": 0}

    def delete_rule(self, Name):  # noqa: N803
        if Name in self.rules:
            if self.rules[Name].extra["targets"]:
                error = {"Code": "ValidationException", "Message": "Rule still has targets."}
                raise ClientError({"Error": error}, "DeleteRule")
            del self.rules[Name]

    def list_rules(self, NamePrefix="", Limit=100, NextToken=None):  # noqa: N803
        return {"Rules": [{"Name": n} for n in sorted(self.rules) if n.startswith(NamePrefix)]}

    def delivered(self, name: str, fire: dt.datetime) -> dict:
        return json.loads(self.rules[name].input)


class FakeScheduler:
    """create_schedule / update_schedule / get_schedule / delete_schedule, stored in memory."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.schedules: dict[str, Resource] = {}
        self.calls = 0

    def _store(self, kwargs: dict) -> Resource:
        expression = kwargs["ScheduleExpression"]
        if not expression.startswith("at("):
            AwsCron.parse(expression)
        ZoneInfo(kwargs.get("ScheduleExpressionTimezone", "UTC"))
        assert kwargs["FlexibleTimeWindow"] == {"Mode": "OFF"}
        assert kwargs["Target"]["Arn"] and kwargs["Target"]["RoleArn"]
        self.calls += 1
        return Resource(expression, kwargs.get("ScheduleExpressionTimezone", "UTC"),
                        kwargs.get("State", "ENABLED"), self.clock.now,
                        kwargs["Target"].get("Input", ""), extra=dict(kwargs))

    def create_schedule(self, **kwargs):
        if kwargs["Name"] in self.schedules:
            raise ClientError({"Error": {"Code": "ConflictException", "Message": "exists"}},
                              "CreateSchedule")
        self.schedules[kwargs["Name"]] = self._store(kwargs)
        return {"ScheduleArn": kwargs["Name"]}

    def update_schedule(self, **kwargs):
        if kwargs["Name"] not in self.schedules:
            raise _not_found("UpdateSchedule", kwargs["Name"])
        self.schedules[kwargs["Name"]] = self._store(kwargs)
        return {"ScheduleArn": kwargs["Name"]}

    def get_schedule(self, Name, GroupName="default"):  # noqa: N803
        if Name not in self.schedules:
            raise _not_found("GetSchedule", Name)
        found = self.schedules[Name]
        return {**found.extra, "ScheduleExpression": found.expression,
                "ScheduleExpressionTimezone": found.timezone, "State": found.state,
                "Target": {**found.extra["Target"], "Input": found.input}}

    def delete_schedule(self, Name, GroupName="default"):  # noqa: N803
        if Name not in self.schedules:
            raise _not_found("DeleteSchedule", Name)
        del self.schedules[Name]

    def delivered(self, name: str, fire: dt.datetime) -> dict:
        text = self.schedules[name].input.replace(
            "<aws.scheduler.scheduled-time>", fire.strftime("%Y-%m-%dT%H:%M:%SZ"))
        return json.loads(text)


class FakeIotData:
    """update_thing_shadow: counts the writes per thing (a shadow's version)."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, dict]] = []

    def update_thing_shadow(self, thingName, payload):  # noqa: N803
        self.writes.append((thingName, json.loads(payload)))
        return {"payload": b"{}"}


class Cloud:
    """EventBridge (rules or Scheduler) and IoT in memory, with the simulated clock."""

    def __init__(self, now: dt.datetime) -> None:
        self.clock = Clock(now)
        self.events = FakeEvents(self.clock)
        self.scheduler = FakeScheduler(self.clock)
        self.iot = FakeIotData()

    def client(self, service: str):
        return {"events": self.events, "scheduler": self.scheduler, "iot-data": self.iot}[service]

    def store(self, backend: str):
        return self.events if backend == "rules" else self.scheduler

    def next_fire(self, backend: str, name: str, after: dt.datetime) -> dt.datetime | None:
        store = self.store(backend)
        found = (store.rules if backend == "rules" else store.schedules).get(name)
        if found is None or found.state != "ENABLED":
            return None
        return next_fire(found.expression, found.timezone, found.written, after)
