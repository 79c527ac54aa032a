"""Schedule Lambda: writes a schedule's desired state to each of its things' shadows.

Input (the EventBridge target `Input`, docs/device-contract.md):
    {"schedule": "<uuid>", "things": ["sl-..."], "desired": {...}}
optionally with `"states": {"sl-...": {...}}` (a scene: per-thing desired, merged over `desired`)
and `"time"`: the fire time (EventBridge Scheduler substitutes `<aws.scheduler.scheduled-time>`;
the local runner passes the due time). Without it the fire time is the current minute, which is
when an EventBridge rule delivers.

Runs in AWS Lambda with nothing but boto3 (no Django). `handler(event, context, iot_data=...)`
takes an injected iot-data client for local use and tests.

Idempotency for one schedule and fire time: every shadow write carries the same `clientToken`
(schedule + fire minute), and the write only sets desired keys, so a redelivered event leaves
the same shadow. A warm container also remembers the tokens it has completed and skips them.
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

# The light-state contract: lambda/build.py puts smartlight/contract.py (standard library only)
# into the zip, so the same module checks the state here and in the platform.
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


def _default_client():
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
    event: Any, context: Any = None, *, iot_data: Any = None, now: dt.datetime | None = None
) -> dict:
    """Write the desired state to each thing. One failing thing does not stop the others."""
    started = time.monotonic()
    now = now or dt.datetime.now(dt.UTC)
    try:
        schedule, things, desired, states, fire_time = validate(event, now)
    except InvalidInput as exc:
        result = {"status": "invalid", "error": str(exc), "ok": [], "failed": []}
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
        "fire_time": fire_time.isoformat().replace("+00:00", "Z"),
        "client_token": token,
        "ok": ok,
        "duplicate": skipped,
        "failed": failed,
    }
    _log_line(result, started)
    return result


def _error_text(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"


def _log_line(result: dict, started: float) -> None:
    # One structured line per run: CloudWatch Logs Insights can filter on its fields.
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
