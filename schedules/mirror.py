"""The EventBridge mirror of schedules, chosen by settings.SCHEDULE_BACKEND.

`rules` (default, the seed's way): one EventBridge rule per schedule, named after its UUID, with a
UTC cron expression and one target, the schedule Lambda, whose constant `Input` is the
`{"schedule", "things", "desired"}` of docs/device-contract.md. EventBridge rules only know UTC
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html), so:

- weekly and simple cron schedules become a recurring UTC cron valid while the home keeps its
  UTC offset; `mirror_repoint_after` is an instant after the last run at the current offset
  and before the first run at the next one (3 h before the change when no run falls in
  between), and the repoint job rewrites the rule then, ahead of the first run that needs it;
- one-off, sunrise/sunset and cron schedules that a UTC cron cannot express are pinned to their
  exact next run (`cron(M H D Mon ? Y)`) and re-pointed after it fires (sun ones daily).
A rule is 1 of at most 300 per event bus by default, so the account nears its quota quickly:
`quota_status()` warns from 80 %.

`scheduler` (EventBridge Scheduler): `cron(...)` with `ScheduleExpressionTimezone` (Scheduler
applies DST itself; it skips a non-existent local time and runs an ambiguous one once, see
https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html), `at()` for one-off
and sun runs. Its Input also carries `"time": "<aws.scheduler.scheduled-time>"`, a context
attribute Scheduler substitutes, so the Lambda's idempotency key is the exact fire time.

All AWS calls go through smartlight.aws.client().
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from botocore.exceptions import ClientError
from croniter import croniter
from django.conf import settings
from django.utils import timezone

from schedules import timing
from schedules.models import Schedule
from smartlight import aws

log = logging.getLogger(__name__)

# One per environment (smartlight-<env>- in AWS), so environments sharing an account never
# reconcile each other's rules away.
NAME_PREFIX = settings.SCHEDULE_NAME_PREFIX
TARGET_ID = "schedule-lambda"
RULES_QUOTA = 300
QUOTA_WARN_SHARE = 0.8
SCHEDULER_GROUP = "default"
DOW_NAMES = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")  # index 0 = Monday
WEEK_MINUTES = 7 * 24 * 60


def mirror_name(code: uuid.UUID | str) -> str:
    return f"{NAME_PREFIX}{code}"


def code_of(name: str) -> str | None:
    if not name.startswith(NAME_PREFIX):
        return None
    try:
        return str(uuid.UUID(name[len(NAME_PREFIX) :]))
    except ValueError:
        return None


@dataclass(frozen=True)
class Plan:
    expression: str
    timezone: str  # "UTC" for rules
    repoint_after: dt.datetime | None


# --- cron helpers ----------------------------------------------------------------------------
def _ranges(values: Iterable[int], full: int, start: int = 0) -> str:
    """`*` for the full set, else a comma list with runs folded into a-b ranges."""
    ordered = sorted(set(values))
    if len(ordered) == full:
        return "*"
    parts: list[str] = []
    run_start = prev = ordered[0]
    for value in ordered[1:] + [None]:  # type: ignore[list-item]
        if value is not None and value == prev + 1:
            prev = value
            continue
        parts.append(str(run_start) if run_start == prev else f"{run_start}-{prev}")
        if value is not None:
            run_start = prev = value
    return ",".join(parts)


def _weekly_cron(triples: set[tuple[int, int, int]]) -> str | None:
    """EventBridge cron for a set of (weekday Mon=0, hour, minute), if it is a product."""
    days = {d for d, _, _ in triples}
    hours = {h for _, h, _ in triples}
    minutes = {m for _, _, m in triples}
    if len(days) * len(hours) * len(minutes) != len(triples):
        return None
    minute_f = _ranges(minutes, 60)
    hour_f = _ranges(hours, 24)
    if len(days) == 7:
        return f"cron({minute_f} {hour_f} * * ? *)"
    dow_f = ",".join(DOW_NAMES[d] for d in sorted(days))
    return f"cron({minute_f} {hour_f} ? * {dow_f} *)"


def _shift(triples: set[tuple[int, int, int]], offset: dt.timedelta) -> set[tuple[int, int, int]]:
    shift = int(offset.total_seconds() // 60)
    shifted = set()
    for d, h, m in triples:
        minute = (d * 1440 + h * 60 + m - shift) % WEEK_MINUTES
        shifted.add((minute // 1440, (minute % 1440) // 60, minute % 60))
    return shifted


def _cron_fields(expression: str) -> list | None:
    """croniter's expanded fields when every one is a plain list of integers or `*`."""
    try:
        expanded = croniter(expression).expanded
    except Exception:  # noqa: BLE001 - an expression croniter cannot expand is simply not mappable
        return None
    for values in expanded[:5]:
        if values != ["*"] and not all(isinstance(v, int) for v in values):
            return None
    return expanded


def _cron_triples(expression: str) -> set[tuple[int, int, int]] | None:
    """(weekday, hour, minute) of a cron that runs on whole weekdays (day and month are `*`)."""
    fields = _cron_fields(expression)
    if fields is None or fields[2] != ["*"] or fields[3] != ["*"]:
        return None
    minutes = range(60) if fields[0] == ["*"] else fields[0]
    hours = range(24) if fields[1] == ["*"] else fields[1]
    # croniter weekdays: 0 or 7 = Sunday; here 0 = Monday.
    days = range(7) if fields[4] == ["*"] else {(v - 1) % 7 for v in fields[4]}
    return {(d, h, m) for d in days for h in hours for m in minutes}


def _pinned_cron(when: dt.datetime) -> str:
    when = when.astimezone(dt.UTC)
    return f"cron({when.minute} {when.hour} {when.day} {when.month} ? {when.year})"


def _at(when: dt.datetime) -> str:
    return f"at({when.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%S})"


# --- plans ---------------------------------------------------------------------------------
def rules_plan(trigger: timing.Trigger, now: dt.datetime) -> Plan | None:
    first = timing.next_run(trigger, now)
    if first is None:
        return None
    zone = trigger.zone
    triples: set[tuple[int, int, int]] | None = None
    if trigger.kind == timing.WEEKLY and trigger.time is not None:
        triples = {(d, trigger.time.hour, trigger.time.minute) for d in trigger.weekdays}
    elif trigger.kind == timing.CRON:
        triples = _cron_triples(trigger.cron)
    if not triples:
        return Plan(_pinned_cron(first), "UTC", first)
    offset = _run_offset(triples, first, zone)
    expression = _weekly_cron(_shift(triples, offset))
    if expression is None:
        return Plan(_pinned_cron(first), "UTC", first)
    return Plan(expression, "UTC", _repoint_before_offset_change(trigger, triples, first, offset))


def _run_offset(triples: set[tuple[int, int, int]], run: dt.datetime, zone) -> dt.timedelta:
    """The UTC offset that maps the run's intended wall time to its instant.

    That is the current offset, except for a time shifted forward out of a spring-forward gap,
    which keeps the offset in force before the gap (timing.localize).
    """
    now_offset = run.astimezone(zone).utcoffset()
    before_offset = (run - timing.MAX_GAP).astimezone(zone).utcoffset()
    for offset in (now_offset, before_offset):
        assert offset is not None
        wall = (run + offset).replace(tzinfo=None)
        if (wall.weekday(), wall.hour, wall.minute) in triples:
            return offset
    assert now_offset is not None
    return now_offset


def _repoint_before_offset_change(
    trigger: timing.Trigger,
    triples: set[tuple[int, int, int]],
    first: dt.datetime,
    offset: dt.timedelta,
) -> dt.datetime | None:
    """An instant after the last run at `offset` and before the first run at another offset."""
    zone = trigger.zone
    change = timing.next_offset_change(zone, first)
    if change is None:
        return None
    window_start = change - timing.MAX_GAP
    repoint = max(window_start, first)
    for run in timing.iter_runs(trigger, window_start):
        if _run_offset(triples, run, zone) != offset:
            return repoint
        repoint = run
        if run > change + dt.timedelta(days=8):
            break
    return repoint


def scheduler_plan(trigger: timing.Trigger, now: dt.datetime) -> Plan | None:
    first = timing.next_run(trigger, now)
    if first is None:
        return None
    if trigger.kind == timing.WEEKLY and trigger.time is not None:
        days = ",".join(DOW_NAMES[d] for d in sorted(set(trigger.weekdays)))
        dow = "?" if len(set(trigger.weekdays)) == 7 else days
        dom = "*" if dow == "?" else "?"
        return Plan(
            f"cron({trigger.time.minute} {trigger.time.hour} {dom} * {dow} *)", trigger.tz, None
        )
    if trigger.kind == timing.CRON:
        fields = _cron_fields(trigger.cron)
        if fields is not None and (fields[2] == ["*"] or fields[4] == ["*"]):
            minute_f = _ranges(range(60) if fields[0] == ["*"] else fields[0], 60)
            hour_f = _ranges(range(24) if fields[1] == ["*"] else fields[1], 24)
            month_f = _ranges(range(1, 13) if fields[3] == ["*"] else fields[3], 12)
            if fields[4] == ["*"]:
                dom_f = _ranges(range(1, 32) if fields[2] == ["*"] else fields[2], 31)
                dow_f = "?"
            else:
                dom_f = "?"
                dow_f = ",".join(DOW_NAMES[(v - 1) % 7] for v in sorted(set(fields[4])))
            return Plan(f"cron({minute_f} {hour_f} {dom_f} {month_f} {dow_f} *)", trigger.tz, None)
    return Plan(_at(first), "UTC", first)


def plan_for(schedule: Schedule, now: dt.datetime, backend: str | None = None) -> Plan | None:
    backend = backend or settings.SCHEDULE_BACKEND
    trigger = schedule.as_trigger()
    if backend == "scheduler":
        return scheduler_plan(trigger, now)
    return rules_plan(trigger, now)


# --- what AWS should hold, and what it holds -----------------------------------------------
def lambda_input_json(schedule: Schedule, backend: str) -> str:
    payload = schedule.lambda_input()
    if backend == "scheduler":
        payload["time"] = "<aws.scheduler.scheduled-time>"
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


def desired_spec(
    schedule: Schedule | None, now: dt.datetime, backend: str | None = None
) -> dict | None:
    """The mirror AWS should hold for this schedule, or None when nothing should exist."""
    return _spec_and_plan(schedule, now, backend or settings.SCHEDULE_BACKEND)[0]


def _spec_and_plan(
    schedule: Schedule | None, now: dt.datetime, backend: str
) -> tuple[dict | None, Plan | None]:
    if schedule is None:
        return None, None
    plan = plan_for(schedule, now, backend)
    if plan is None:
        return None, None
    spec = {
        "expression": plan.expression,
        "state": "ENABLED" if schedule.enabled else "DISABLED",
        "input": lambda_input_json(schedule, backend),
        "target": settings.SCHEDULE_LAMBDA_ARN,
    }
    if backend == "scheduler":
        spec["timezone"] = plan.timezone
    return spec, plan


def load(code: str) -> Schedule | None:
    """The schedule with everything its Lambda input needs, in four queries."""
    return (
        Schedule.objects.select_related("home", "scene")
        .prefetch_related("devices", "rooms__devices")
        .filter(code=code)
        .first()
    )


def _not_found(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in {
        "ResourceNotFoundException",
        "ResourceNotFound",
    }


def actual_spec(code: str, backend: str | None = None) -> dict | None:
    backend = backend or settings.SCHEDULE_BACKEND
    name = mirror_name(code)
    if backend == "scheduler":
        try:
            found = aws.client("scheduler").get_schedule(Name=name, GroupName=SCHEDULER_GROUP)
        except ClientError as exc:
            if _not_found(exc):
                return None
            raise
        target = found.get("Target", {})
        return {
            "expression": found["ScheduleExpression"],
            "state": found.get("State", "ENABLED"),
            "input": target.get("Input", ""),
            "target": target.get("Arn", ""),
            "timezone": found.get("ScheduleExpressionTimezone", "UTC"),
        }
    events = aws.client("events")
    try:
        rule = events.describe_rule(Name=name)
    except ClientError as exc:
        if _not_found(exc):
            return None
        raise
    targets = events.list_targets_by_rule(Rule=name).get("Targets", [])
    target = targets[0] if len(targets) == 1 else {}
    return {
        "expression": rule.get("ScheduleExpression", ""),
        "state": rule.get("State", "ENABLED"),
        "input": target.get("Input", "") if target.get("Id") == TARGET_ID else "",
        "target": target.get("Arn", "") if target.get("Id") == TARGET_ID else "",
    }


def remote_codes(backend: str | None = None) -> set[str]:
    """Codes of every mirror in AWS under our name prefix."""
    backend = backend or settings.SCHEDULE_BACKEND
    names: list[str] = []
    if backend == "scheduler":
        paginator = aws.client("scheduler").get_paginator("list_schedules")
        for page in paginator.paginate(NamePrefix=NAME_PREFIX, GroupName=SCHEDULER_GROUP):
            names.extend(item["Name"] for item in page.get("Schedules", []))
    else:
        events = aws.client("events")
        token = None
        while True:
            kwargs = {"NamePrefix": NAME_PREFIX, "Limit": 100}
            if token:
                kwargs["NextToken"] = token
            page = events.list_rules(**kwargs)
            names.extend(rule["Name"] for rule in page.get("Rules", []))
            token = page.get("NextToken")
            if not token:
                break
    return {code for name in names if (code := code_of(name))}


# --- writing -------------------------------------------------------------------------------
def _write_rule(name: str, spec: dict) -> None:
    events = aws.client("events")
    events.put_rule(
        Name=name,
        ScheduleExpression=spec["expression"],
        State=spec["state"],
        Description="Smart Light schedule",
    )
    events.put_targets(
        Rule=name, Targets=[{"Id": TARGET_ID, "Arn": spec["target"], "Input": spec["input"]}]
    )


def _delete_rule(name: str) -> None:
    # EventBridge refuses to delete a rule that still has targets: remove them first.
    events = aws.client("events")
    try:
        targets = events.list_targets_by_rule(Rule=name).get("Targets", [])
        if targets:
            events.remove_targets(Rule=name, Ids=[t["Id"] for t in targets])
        events.delete_rule(Name=name)
    except ClientError as exc:
        if not _not_found(exc):
            raise


def _write_schedule(name: str, spec: dict) -> None:
    scheduler = aws.client("scheduler")
    kwargs = {
        "Name": name,
        "GroupName": SCHEDULER_GROUP,
        "ScheduleExpression": spec["expression"],
        "ScheduleExpressionTimezone": spec["timezone"],
        "State": spec["state"],
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {
            "Arn": spec["target"],
            "RoleArn": settings.SCHEDULER_ROLE_ARN,
            "Input": spec["input"],
        },
    }
    try:
        scheduler.update_schedule(**kwargs)
    except ClientError as exc:
        if not _not_found(exc):
            raise
        scheduler.create_schedule(**kwargs)


def _delete_schedule(name: str) -> None:
    try:
        aws.client("scheduler").delete_schedule(Name=name, GroupName=SCHEDULER_GROUP)
    except ClientError as exc:
        if not _not_found(exc):
            raise


def push(code: str, now: dt.datetime | None = None, backend: str | None = None) -> str:
    """Make AWS hold exactly what the database says for this schedule. Safe to repeat.

    Returns "written" or "deleted". Raises botocore errors for the caller to retry.
    """
    now = now or timezone.now()
    backend = backend or settings.SCHEDULE_BACKEND
    code = str(code)
    schedule = load(code)
    spec, plan = _spec_and_plan(schedule, now, backend)
    name = mirror_name(code)
    if spec is None:
        if backend == "scheduler":
            _delete_schedule(name)
        else:
            _delete_rule(name)
        outcome = "deleted"
    else:
        if backend == "scheduler":
            _write_schedule(name, spec)
        else:
            _write_rule(name, spec)
        outcome = "written"
    if schedule is not None:
        Schedule.objects.filter(pk=schedule.pk).update(
            mirror_expression=plan.expression if plan else "",
            mirror_repoint_after=plan.repoint_after if plan else None,
        )
    return outcome


def drift(code: str, now: dt.datetime | None = None, backend: str | None = None) -> str | None:
    """A one-line reason when AWS differs from the database for this schedule, else None."""
    now = now or timezone.now()
    backend = backend or settings.SCHEDULE_BACKEND
    want = desired_spec(load(code), now, backend)
    have = actual_spec(code, backend)
    if want == have:
        return None
    if have is None:
        return "missing in AWS"
    if want is None:
        return "in AWS but not in the database (or has no future run)"
    fields = sorted(k for k in want if want.get(k) != have.get(k))
    return "differs: " + ", ".join(f"{k} {have.get(k)!r} -> {want.get(k)!r}" for k in fields)


def quota_status(backend: str | None = None) -> str | None:
    """A warning when the rules backend nears EventBridge's rules-per-bus quota."""
    backend = backend or settings.SCHEDULE_BACKEND
    if backend == "scheduler":
        return None
    quota = getattr(settings, "SCHEDULE_RULES_QUOTA", RULES_QUOTA)
    used = Schedule.objects.exclude(mirror_expression="").count()
    if used >= quota * QUOTA_WARN_SHARE:
        return (
            f"{used} of {quota} EventBridge rules per bus are used by schedules. Ask AWS for a "
            "higher quota or switch to SCHEDULE_BACKEND=scheduler (EventBridge Scheduler)."
        )
    return None
