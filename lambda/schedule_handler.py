"""Schedule Lambda: writes a schedule's desired state to each of its things' shadows.

Input (the EventBridge target `Input`, docs/device-contract.md):
    {"schedule": "<uuid>", "things": ["sl-..."], "desired": {...}}
optionally with `"states": {"sl-...": {...}}` (a scene: per-thing desired, merged over `desired`)
and `"time"`: the fire time (EventBridge Scheduler substitutes `<aws.scheduler.scheduled-time>`;
the local runner passes the due time). Without it the fire time is the current minute, which is
when an EventBridge rule delivers.

Runs in AWS Lambda with boto3 and the deployment package `make lambda` builds (no Django): the
package holds the platform's own schedules/timing.py (with croniter, astral and tzdata), so the
Lambda and the portal compute every run with the same code. `handler(event, context,
iot_data=..., events=..., scheduler=...)` takes injected clients for local use and tests.

Mirrored runs (the input has `mirror`, `at` and `trigger`; see schedules/mirror.py): EventBridge
fires the schedule's rule or Scheduler schedule for the one run `at`. The Lambda reads the
resource, and
- if its `done` is at or after `at`, this is a redelivery: nothing is written;
- otherwise writes the run's state, then re-points the resource at the following run of
  `trigger` (after `at`) and records `done` = `at`; after the last run it deletes the resource.
The resource itself is the durable record of which runs are done, so a redelivery to a cold
container changes nothing, and schedules keep firing without anything on the platform's side.

Idempotency within a run: every shadow write carries the same `clientToken` (schedule + run
minute), and the write only sets desired keys. A warm container also remembers the tokens it
has completed and skips them. Unmirrored input (the local runner) is handled the same way minus
the resource.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import time
import uuid
from collections import OrderedDict
from typing import Any

# The light-state contract and the schedule arithmetic: lambda/build.py puts
# smartlight/contract.py and schedules/timing.py (neither needs Django) into the zip, so the same
# modules check the state and compute every run here and in the platform.
from schedules import timing
from smartlight import contract

THING_RE = re.compile(r"\Asl-[0-9a-f]{12}\Z")  # \Z: `$` would allow a trailing newline
MAX_THINGS = 500
_DONE: OrderedDict[str, None] = OrderedDict()
_DONE_LIMIT = 10_000

log = logging.getLogger("schedule_handler")
log.setLevel(logging.INFO)


class InvalidInput(ValueError):
    pass


def _check_desired(desired: Any, where: str) -> dict:
    """A desired state by the light-state contract, with the schedules' limits (a fade of up
    to 15 minutes; an effect checked for its form, since the lights' effects are not known)."""
    try:
        return contract.validate_desired(
            desired, max_transition_ms=contract.SCHEDULE_MAX_TRANSITION_MS, allow_empty=True
        )
    except contract.InvalidState as exc:
        first = exc.errors[0]
        field = where if first.field == "desired" else f"{where}.{first.field}"
        raise InvalidInput(f"{field} {first.reason}") from exc


def parse_time(value: Any, now: dt.datetime) -> dt.datetime:
    """The fire time, to the minute: an ISO 8601 `time`, else the current minute."""
    if isinstance(value, str) and value and not value.startswith("<"):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidInput(f"time {value!r} is not an ISO 8601 date-time") from exc
        if parsed.tzinfo is None:
            raise InvalidInput("time needs a UTC offset")
        return parsed.astimezone(dt.UTC).replace(second=0, microsecond=0)
    return now.astimezone(dt.UTC).replace(second=0, microsecond=0)


def validate(event: Any, now: dt.datetime) -> tuple[str, list[str], dict, dict, dt.datetime]:
    if not isinstance(event, dict):
        raise InvalidInput("the input must be a JSON object")
    try:
        schedule = str(uuid.UUID(str(event.get("schedule"))))
    except ValueError as exc:
        raise InvalidInput("schedule must be the schedule's UUID") from exc
    things = event.get("things")
    if not isinstance(things, list) or not things:
        raise InvalidInput("things must be a non-empty list of thing names")
    if len(things) > MAX_THINGS:
        raise InvalidInput(f"at most {MAX_THINGS} things per run")
    for thing in things:
        if not isinstance(thing, str) or not THING_RE.match(thing):
            raise InvalidInput(f"{thing!r} is not a thing name (sl- and 12 hex characters)")
    desired = _check_desired(event.get("desired", {}), "desired")
    states = event.get("states") or {}
    if not isinstance(states, dict):
        raise InvalidInput("states must map thing names to desired objects")
    for thing in states:
        if thing not in things:
            raise InvalidInput(f"states names {thing!r}, which is not in things")
    states = {thing: _check_desired(state, f"states.{thing}") for thing, state in states.items()}
    for thing in things:
        if not {**desired, **states.get(thing, {})}:
            raise InvalidInput(f"nothing to set for {thing}")
    fire_time = parse_time(event.get("time"), now)
    return schedule, list(dict.fromkeys(things)), desired, states, fire_time


def client_token(schedule: str, fire_time: dt.datetime) -> str:
    # AWS IoT allows a clientToken of at most 64 bytes: 4 + 32 + 1 + 12 = 49.
    return f"sch-{uuid.UUID(schedule).hex}-{fire_time:%Y%m%d%H%M}"


def _default_client() -> Any:
    import boto3

    endpoint = os.environ.get("IOT_DATA_ENDPOINT_URL") or (
        f"https://{os.environ['IOT_ENDPOINT']}" if os.environ.get("IOT_ENDPOINT") else None
    )
    return boto3.client("iot-data", endpoint_url=endpoint)


def _remember(key: str) -> None:
    _DONE[key] = None
    while len(_DONE) > _DONE_LIMIT:
        _DONE.popitem(last=False)


def handler(
    event: Any,
    context: Any = None,
    *,
    iot_data: Any = None,
    events: Any = None,
    scheduler: Any = None,
    now: dt.datetime | None = None,
) -> dict:
    """Write the desired state to each thing. One failing thing does not stop the others."""
    started = time.monotonic()
    now = now or dt.datetime.now(dt.UTC)
    try:
        schedule, things, desired, states, fire_time = validate(event, now)
        point = mirror_point(event, schedule) if "mirror" in event else None
    except InvalidInput as exc:
        result = {"status": "invalid", "error": str(exc), "ok": [], "failed": []}
        _log_line(result, started)
        return result

    resource = None
    if point is not None:
        fire_time = point.at  # the run, whenever (and however often) it is delivered
        resource = MIRRORS[point.backend](events if point.backend == "rules" else scheduler)
        held = resource.read(point.name)
        skip = _already_done(held, point)
        if skip:
            result = {"status": skip, "schedule": schedule, "fire_time": _iso(fire_time),
                      "ok": [], "duplicate": list(things), "failed": []}
            _log_line(result, started)
            return result

    token = client_token(schedule, fire_time)
    client = iot_data or _default_client()
    ok: list[str] = []
    skipped: list[str] = []
    failed: list[dict] = []
    for thing in things:
        key = f"{token}/{thing}"
        if key in _DONE:
            skipped.append(thing)
            continue
        document = {
            "state": {"desired": {**desired, **states.get(thing, {})}},
            "clientToken": token,
        }
        try:
            client.update_thing_shadow(
                thingName=thing, payload=json.dumps(document, separators=(",", ":")).encode()
            )
        except Exception as exc:  # noqa: BLE001 - any failure of one thing is reported, not fatal
            failed.append({"thing": thing, "error": _error_text(exc)})
            continue
        _remember(key)
        ok.append(thing)
    status = "ok" if not failed else ("partial" if ok or skipped else "failed")
    result = {
        "status": status,
        "schedule": schedule,
        "fire_time": _iso(fire_time),
        "client_token": token,
        "ok": ok,
        "duplicate": skipped,
        "failed": failed,
    }
    if point is not None and resource is not None:
        # Even when lights failed: the schedule moves on (retrying a past run later would set
        # a stale state), and the failures are in the log line.
        result["next"] = repoint(resource, point, held, now)
    _log_line(result, started)
    return result


# --- mirrored runs: the resource that fired, and re-pointing it -------------------------------
class MirrorPoint:
    """What a mirrored event says about itself: where it came from and which run it is."""

    def __init__(self, backend: str, name: str, at: dt.datetime, trigger: Any,
                 definition: dict) -> None:
        self.backend = backend
        self.name = name
        self.at = at
        self.trigger = trigger
        self.definition = definition


DEFINITION_KEYS = ("things", "desired", "states", "trigger")
MIRROR_NAME_RE = re.compile(r"\Asmartlight-(?:[a-z0-9-]{1,40}-)?[0-9a-f-]{36}\Z")


def _iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _instant(value: Any, where: str) -> dt.datetime:
    if not isinstance(value, str):
        raise InvalidInput(f"{where} must be an ISO 8601 date-time")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(f"{where} {value!r} is not an ISO 8601 date-time") from exc
    if parsed.tzinfo is None:
        raise InvalidInput(f"{where} needs a UTC offset")
    return parsed.astimezone(dt.UTC)


def mirror_point(event: dict, schedule: str) -> MirrorPoint:
    mirror = event.get("mirror")
    if not isinstance(mirror, dict) or mirror.get("backend") not in MIRRORS:
        raise InvalidInput('mirror must be {"backend": "rules" | "scheduler", "name": ...}')
    name = mirror.get("name")
    # smartlight-[<environment>-]<the schedule's UUID>: never another schedule's resource.
    if not isinstance(name, str) or not MIRROR_NAME_RE.match(name) or not name.endswith(schedule):
        raise InvalidInput(f"mirror.name must be 'smartlight-…{schedule}', the schedule's own "
                           "resource")
    try:
        trigger = timing.trigger_from_dict(event.get("trigger"))
    except timing.TriggerError as exc:
        raise InvalidInput(f"trigger: {exc.reason}") from exc
    at = _instant(event.get("at"), "at")
    definition = {key: event.get(key) for key in DEFINITION_KEYS}
    return MirrorPoint(mirror["backend"], name, at, trigger, definition)


def _payload(held: dict | None) -> dict:
    try:
        return json.loads((held or {}).get("input") or "{}")
    except ValueError:
        return {}


def _already_done(held: dict | None, point: MirrorPoint) -> str | None:
    """"gone" when the resource no longer exists (the schedule was deleted or has ended),
    "duplicate" when it records this run as done; None to go ahead."""
    if held is None:
        return "gone"
    done = _payload(held).get("done")
    if done and _instant(done, "done") >= point.at:
        return "duplicate"
    return None


def repoint(resource: Any, point: MirrorPoint, held: dict, now: dt.datetime) -> str | None:
    """Record `at` as done and, if the resource still points at this run of this definition,
    point it at the following run (runs already past are counted as done: their state is the
    one just written). Returns the next run, or None when the resource was deleted."""
    payload = _payload(held)
    payload["done"] = _iso(point.at)
    expression = held["expression"]
    current_at = payload.get("at")
    same = {key: payload.get(key) for key in DEFINITION_KEYS} == point.definition
    if same and current_at and _instant(current_at, "at") <= point.at:
        following = timing.next_run(point.trigger, point.at)
        while following is not None and following <= now:
            payload["done"] = _iso(following)
            following = timing.next_run(point.trigger, following)
        if following is None:
            resource.delete(point.name)
            return None
        payload["at"] = _iso(following)
        expression = resource.expression(following)
    # Otherwise the platform rewrote it meanwhile (an edit): keep its run, only add `done`.
    resource.write(point.name, held, expression,
                   json.dumps(payload, separators=(",", ":"), sort_keys=True))
    return payload.get("at")


class RulesResource:
    """The schedule's EventBridge rule (a one-minute UTC cron with the full date)."""

    def __init__(self, client: Any = None) -> None:
        self.client = client or _aws_client("events")

    @staticmethod
    def expression(run: dt.datetime) -> str:
        run = run.astimezone(dt.UTC)
        return f"cron({run.minute} {run.hour} {run.day} {run.month} ? {run.year})"

    def read(self, name: str) -> dict | None:
        try:
            rule = self.client.describe_rule(Name=name)
        except Exception as exc:
            if _not_found(exc):
                return None
            raise
        targets = self.client.list_targets_by_rule(Rule=name).get("Targets", [])
        if len(targets) != 1:
            return None
        return {"expression": rule.get("ScheduleExpression", ""),
                "state": rule.get("State", "ENABLED"), "input": targets[0].get("Input", ""),
                "target": targets[0]}

    def write(self, name: str, held: dict, expression: str, payload: str) -> None:
        target = {key: held["target"][key] for key in ("Id", "Arn") if key in held["target"]}
        self.client.put_targets(Rule=name, Targets=[{**target, "Input": payload}])
        if expression != held["expression"]:
            self.client.put_rule(Name=name, ScheduleExpression=expression, State=held["state"],
                                 Description="Smart Light schedule")

    def delete(self, name: str) -> None:
        self.client.remove_targets(Rule=name, Ids=["schedule-lambda"])
        self.client.delete_rule(Name=name)


class SchedulerResource:
    """The schedule's EventBridge Scheduler schedule (a one-time `at()` in UTC)."""

    GROUP = "default"
    # What UpdateSchedule needs back (it replaces the whole schedule).
    KEEP = ("Description", "EndDate", "FlexibleTimeWindow", "KmsKeyArn", "StartDate",
            "ActionAfterCompletion")

    def __init__(self, client: Any = None) -> None:
        self.client = client or _aws_client("scheduler")

    @staticmethod
    def expression(run: dt.datetime) -> str:
        return f"at({run.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%S})"

    def read(self, name: str) -> dict | None:
        try:
            found = self.client.get_schedule(Name=name, GroupName=self.GROUP)
        except Exception as exc:
            if _not_found(exc):
                return None
            raise
        return {"expression": found["ScheduleExpression"], "state": found.get("State", "ENABLED"),
                "input": found.get("Target", {}).get("Input", ""), "schedule": found}

    def write(self, name: str, held: dict, expression: str, payload: str) -> None:
        found = held["schedule"]
        kwargs = {key: found[key] for key in self.KEEP if found.get(key) is not None}
        self.client.update_schedule(
            Name=name, GroupName=self.GROUP, ScheduleExpression=expression,
            ScheduleExpressionTimezone="UTC", State=held["state"],
            Target={**found["Target"], "Input": payload}, **kwargs,
        )

    def delete(self, name: str) -> None:
        self.client.delete_schedule(Name=name, GroupName=self.GROUP)


MIRRORS = {"rules": RulesResource, "scheduler": SchedulerResource}


def _not_found(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code in {"ResourceNotFoundException", "ResourceNotFound"}


def _aws_client(service: str) -> Any:
    import boto3

    return boto3.client(service)


def _error_text(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"


def _log_line(result: dict, started: float) -> None:
    # One structured line per run: CloudWatch Logs Insights can filter on its fields.
    if not log.isEnabledFor(logging.INFO):
        return
    line = {
        "event": "schedule_run",
        "status": result["status"],
        "schedule": result.get("schedule"),
        "fire_time": result.get("fire_time"),
        "ok": len(result.get("ok", [])),
        "duplicate": len(result.get("duplicate", [])),
        "failed": result.get("failed", []),
        "error": result.get("error"),
        "duration_ms": round((time.monotonic() - started) * 1000, 1),
    }
    log.info(json.dumps(line, separators=(",", ":")))
