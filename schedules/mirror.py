"""The EventBridge mirror of schedules: one backend class per AWS service, one interface.

Every backend points the schedule's one AWS resource at exactly one instant, the schedule's
next run as `timing.next_run` gives it, written in UTC; so what AWS fires is, by construction,
what the portal shows, in every zone and across every clock change (no UTC cron is ever derived
from a local time). The target's Input carries what the Lambda needs to act and to move on:

    {"schedule", "things", "desired"[, "states"],   the action (docs/device-contract.md)
     "trigger": {...},                               the definition (timing.trigger_to_dict)
     "at": "2027-03-28T01:30:00Z",                  the run this resource fires for
     "done": "...",                                  the last run the Lambda completed
     "mirror": {"backend", "name"}}

After writing the run's state the Lambda re-points the same resource at the following run,
computed by the same `timing` module bundled into it, and records `done`; so no Celery beat is
needed for schedules to keep firing, and a redelivered event (its `at` not after `done`) changes
nothing. The platform writes the resource when the schedule changes (outbox push) and the
periodic flush re-pushes one the Lambda failed to re-point (`mirror_points_at` long past).

Resources are named NAME_PREFIX + the schedule's UUID (`smartlight-<env>-` in AWS).

- `rules` (RulesBackend): an EventBridge rule per schedule, `cron(M H D Mon ? Y)` in UTC for the
  one minute of the next run (rules only know UTC:
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html),
  with one target, the schedule Lambda. One rule per schedule counts against the rules quota
  (300 per bus by default): `quota_status()` warns from 80 %.
- `scheduler` (SchedulerBackend): an EventBridge Scheduler schedule with `at(...)` and
  `ScheduleExpressionTimezone` UTC. A one-time schedule in UTC never meets a clock change, so
  Scheduler's own daylight-saving rule for local times (a non-existent time is skipped, an
  ambiguous one runs once, https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html)
  never applies. Its Input also carries `"time": "<aws.scheduler.scheduled-time>"`, which
  Scheduler substitutes with the fire time.

All AWS calls go through smartlight.aws.client().
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
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
# A pointed run the platform keeps when re-pushing an unchanged schedule: EventBridge may still
# be delivering it (it fires within its minute, the Lambda a few seconds later).
IN_FLIGHT = dt.timedelta(seconds=90)
# Longer than this past its run, a mirror that still points at it was not re-pointed.
STALLED_AFTER = dt.timedelta(minutes=10)
# Keys of the Input that define what a run does and when the next one is.
DEFINITION_KEYS = ("things", "desired", "states", "trigger")


def mirror_name(code: uuid.UUID | str) -> str:
    return f"{NAME_PREFIX}{code}"


def code_of(name: str) -> str | None:
    if not name.startswith(NAME_PREFIX):
        return None
    try:
        return str(uuid.UUID(name[len(NAME_PREFIX) :]))
    except ValueError:
        return None


def iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(dt.UTC) if parsed.tzinfo else None


@dataclass(frozen=True)
class Spec:
    """What one mirror resource holds (also what AWS is read back as)."""

    expression: str
    state: str  # ENABLED | DISABLED
    input: str  # the target's Input, JSON
    target: str  # the Lambda's ARN
    timezone: str = "UTC"

    @property
    def payload(self) -> dict:
        try:
            return json.loads(self.input)
        except ValueError:
            return {}

    def as_dict(self) -> dict:
        return {
            "expression": self.expression,
            "state": self.state,
            "input": self.input,
            "target": self.target,
            "timezone": self.timezone,
        }


class Backend(ABC):
    """One AWS service that fires schedules. Subclasses say how a run is written and stored."""

    name: str

    # --- what the database says -----------------------------------------------------------
    @abstractmethod
    def expression(self, run: dt.datetime) -> str:
        """The schedule expression that fires once, in the minute of `run` (UTC)."""

    def extra_input(self) -> dict:
        return {}

    def payload(self, schedule: Schedule, run: dt.datetime, done: dt.datetime | None) -> dict:
        payload = schedule.lambda_input()
        payload["trigger"] = timing.trigger_to_dict(schedule.as_trigger())
        payload["at"] = iso(run)
        if done is not None:
            payload["done"] = iso(done)
        payload["mirror"] = {"backend": self.name, "name": mirror_name(schedule.code)}
        payload.update(self.extra_input())
        return payload

    def spec(
        self, schedule: Schedule | None, now: dt.datetime, current: Spec | None = None
    ) -> tuple[Spec | None, dt.datetime | None]:
        """(what AWS should hold, the run it points at); (None, None) when nothing should exist.

        With `current` (what AWS holds), a run still in flight is kept rather than skipped, and
        the Lambda's `done` marker is carried over so a late redelivery stays harmless.
        """
        if schedule is None:
            return None, None
        trigger = schedule.as_trigger()
        run = timing.next_run(trigger, now)
        done = None
        if current is not None:
            held = current.payload
            done = parse_iso(held.get("done"))
            pointed = parse_iso(held.get("at"))
            if (
                pointed is not None
                and now - IN_FLIGHT < pointed <= now
                and (done is None or done < pointed)
                and timing.next_run(trigger, pointed - dt.timedelta(minutes=1)) == pointed
            ):
                run = pointed
        if run is None:
            return None, None
        spec = Spec(
            expression=self.expression(run),
            state="ENABLED" if schedule.enabled else "DISABLED",
            input=json.dumps(self.payload(schedule, run, done), separators=(",", ":"),
                             sort_keys=True),
            target=settings.SCHEDULE_LAMBDA_ARN,
        )
        return spec, run

    # --- what AWS holds ---------------------------------------------------------------------
    @abstractmethod
    def read(self, name: str) -> Spec | None: ...

    @abstractmethod
    def write(self, name: str, spec: Spec, current: Spec | None) -> None: ...

    @abstractmethod
    def delete(self, name: str) -> None: ...

    @abstractmethod
    def names(self) -> list[str]: ...

    def quota_status(self) -> str | None:
        return None


def _not_found(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in {
        "ResourceNotFoundException",
        "ResourceNotFound",
    }


class RulesBackend(Backend):
    """EventBridge rules: a one-minute UTC cron with the full date, one Lambda target."""

    name = "rules"

    def __init__(self, client: Any = None) -> None:
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or aws.client("events")

    def expression(self, run: dt.datetime) -> str:
        run = run.astimezone(dt.UTC)
        return f"cron({run.minute} {run.hour} {run.day} {run.month} ? {run.year})"

    def read(self, name: str) -> Spec | None:
        try:
            rule = self.client.describe_rule(Name=name)
        except ClientError as exc:
            if _not_found(exc):
                return None
            raise
        targets = self.client.list_targets_by_rule(Rule=name).get("Targets", [])
        target = targets[0] if len(targets) == 1 and targets[0].get("Id") == TARGET_ID else {}
        return Spec(
            expression=rule.get("ScheduleExpression", ""),
            state=rule.get("State", "ENABLED"),
            input=target.get("Input", ""),
            target=target.get("Arn", ""),
        )

    def write(self, name: str, spec: Spec, current: Spec | None) -> None:
        if current is None:
            # A target needs its rule: create the rule first.
            self._put_rule(name, spec)
        # Then the target: until the rule's expression moves, the new Input cannot fire early.
        if current is None or (current.input, current.target) != (spec.input, spec.target):
            self.client.put_targets(
                Rule=name, Targets=[{"Id": TARGET_ID, "Arn": spec.target, "Input": spec.input}]
            )
        if current is not None and (current.expression, current.state) != (
            spec.expression, spec.state
        ):
            self._put_rule(name, spec)

    def _put_rule(self, name: str, spec: Spec) -> None:
        self.client.put_rule(
            Name=name,
            ScheduleExpression=spec.expression,
            State=spec.state,
            Description="Smart Light schedule",
        )

    def delete(self, name: str) -> None:
        # EventBridge refuses to delete a rule that still has targets: remove them first.
        try:
            targets = self.client.list_targets_by_rule(Rule=name).get("Targets", [])
            if targets:
                self.client.remove_targets(Rule=name, Ids=[t["Id"] for t in targets])
            self.client.delete_rule(Name=name)
        except ClientError as exc:
            if not _not_found(exc):
                raise

    def names(self) -> list[str]:
        names: list[str] = []
        token = None
        while True:
            kwargs: dict[str, Any] = {"NamePrefix": NAME_PREFIX, "Limit": 100}
            if token:
                kwargs["NextToken"] = token
            page = self.client.list_rules(**kwargs)
            names.extend(rule["Name"] for rule in page.get("Rules", []))
            token = page.get("NextToken")
            if not token:
                return names

    def quota_status(self) -> str | None:
        quota = getattr(settings, "SCHEDULE_RULES_QUOTA", RULES_QUOTA)
        used = Schedule.objects.exclude(mirror_expression="").count()
        if used >= quota * QUOTA_WARN_SHARE:
            return (
                f"{used} of {quota} EventBridge rules per bus are used by schedules. Ask AWS for "
                "a higher quota or switch to SCHEDULE_BACKEND=scheduler (EventBridge Scheduler)."
            )
        return None


class SchedulerBackend(Backend):
    """EventBridge Scheduler: a one-time `at()` schedule in UTC, re-pointed after each run."""

    name = "scheduler"

    def __init__(self, client: Any = None) -> None:
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or aws.client("scheduler")

    def expression(self, run: dt.datetime) -> str:
        return f"at({run.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%S})"

    def extra_input(self) -> dict:
        return {"time": "<aws.scheduler.scheduled-time>"}

    def read(self, name: str) -> Spec | None:
        try:
            found = self.client.get_schedule(Name=name, GroupName=SCHEDULER_GROUP)
        except ClientError as exc:
            if _not_found(exc):
                return None
            raise
        target = found.get("Target", {})
        return Spec(
            expression=found["ScheduleExpression"],
            state=found.get("State", "ENABLED"),
            input=target.get("Input", ""),
            target=target.get("Arn", ""),
            timezone=found.get("ScheduleExpressionTimezone", "UTC"),
        )

    def write(self, name: str, spec: Spec, current: Spec | None) -> None:
        if current == spec:
            return
        kwargs = {
            "Name": name,
            "GroupName": SCHEDULER_GROUP,
            "ScheduleExpression": spec.expression,
            "ScheduleExpressionTimezone": spec.timezone,
            "State": spec.state,
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {
                "Arn": spec.target,
                "RoleArn": settings.SCHEDULER_ROLE_ARN,
                "Input": spec.input,
            },
        }
        if current is None:
            self.client.create_schedule(**kwargs)
        else:
            self.client.update_schedule(**kwargs)

    def delete(self, name: str) -> None:
        try:
            self.client.delete_schedule(Name=name, GroupName=SCHEDULER_GROUP)
        except ClientError as exc:
            if not _not_found(exc):
                raise

    def names(self) -> list[str]:
        paginator = self.client.get_paginator("list_schedules")
        names: list[str] = []
        for page in paginator.paginate(NamePrefix=NAME_PREFIX, GroupName=SCHEDULER_GROUP):
            names.extend(item["Name"] for item in page.get("Schedules", []))
        return names


BACKENDS: dict[str, type[Backend]] = {"rules": RulesBackend, "scheduler": SchedulerBackend}


def backend(name: str | None = None) -> Backend:
    return BACKENDS[name or settings.SCHEDULE_BACKEND]()


# --- the platform's side ------------------------------------------------------------------
def load(code: str) -> Schedule | None:
    """The schedule with everything its Lambda input needs, in four queries."""
    return (
        Schedule.objects.select_related("home", "scene")
        .prefetch_related("devices", "rooms__devices")
        .filter(code=code)
        .first()
    )


def desired_spec(
    schedule: Schedule | None, now: dt.datetime, backend_name: str | None = None
) -> dict | None:
    """The mirror AWS should hold for this schedule now (ignoring what it holds), or None."""
    spec, _ = backend(backend_name).spec(schedule, now)
    return spec.as_dict() if spec else None


def actual_spec(code: str, backend_name: str | None = None) -> dict | None:
    spec = backend(backend_name).read(mirror_name(code))
    return spec.as_dict() if spec else None


def remote_codes(backend_name: str | None = None) -> set[str]:
    """Codes of every mirror in AWS under our name prefix."""
    return {code for name in backend(backend_name).names() if (code := code_of(name))}


def push(code: str, now: dt.datetime | None = None, backend_name: str | None = None) -> str:
    """Make AWS hold exactly what the database says for this schedule. Safe to repeat.

    Returns "written", "unchanged" or "deleted". Raises botocore errors for the caller to retry.
    """
    now = now or timezone.now()
    chosen = backend(backend_name)
    code = str(code)
    name = mirror_name(code)
    schedule = load(code)
    current = chosen.read(name)
    spec, run = chosen.spec(schedule, now, current)
    if spec is None:
        if current is not None:
            chosen.delete(name)
        outcome = "deleted"
    elif spec == current:
        outcome = "unchanged"
    else:
        chosen.write(name, spec, current)
        outcome = "written"
    if schedule is not None:
        Schedule.objects.filter(pk=schedule.pk).update(
            mirror_expression=spec.expression if spec else "", mirror_points_at=run
        )
    return outcome


def drift(code: str, now: dt.datetime | None = None, backend_name: str | None = None) -> str | None:
    """A one-line reason when AWS differs from the database for this schedule, else None."""
    now = now or timezone.now()
    chosen = backend(backend_name)
    have = chosen.read(mirror_name(code))
    want, _ = chosen.spec(load(code), now, have)
    if want == have:
        return None
    if have is None:
        return "missing in AWS"
    if want is None:
        return "in AWS but not in the database (or has no future run)"
    w, h = want.as_dict(), have.as_dict()
    fields = sorted(k for k in w if w[k] != h.get(k))
    return "differs: " + ", ".join(f"{k} {h.get(k)!r} -> {w.get(k)!r}" for k in fields)


def stalled_codes(now: dt.datetime | None = None) -> list[str]:
    """Schedules whose mirror was last written for a run long past: unless the Lambda re-pointed
    it since (then a push changes nothing), it must be re-pointed from here."""
    now = now or timezone.now()
    return [
        str(code)
        for code in Schedule.objects.filter(
            enabled=True, mirror_points_at__lt=now - STALLED_AFTER
        ).values_list("code", flat=True)
    ]


def quota_status(backend_name: str | None = None) -> str | None:
    """A warning when the backend nears an AWS quota (the rules backend's rules per bus)."""
    return backend(backend_name).quota_status()
