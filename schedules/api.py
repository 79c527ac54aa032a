"""Schedules in the JSON API, mounted at /api/v1/schedules by smartlight/api.py.

Objects are fetched through schedules/access.py (other homes: 404; viewers writing: 403). Bad
input answers 422 in ninja's validation format, `{"detail": [{"loc": [..., field], "msg": ...}]}`,
whether pydantic or schedules/actions.py found it; nothing is changed then.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError, ValidationError
from ninja.responses import Status
from pydantic import AfterValidator, ConfigDict, WithJsonSchema

from accounts.access import get_home_for_api
from accounts.models import Home, Role
from schedules import actions, timing
from schedules.access import get_schedule_for_user
from schedules.models import MirrorOutbox, Schedule
from smartlight import contract
from smartlight.text import Name, PlainText

router = Router(tags=["schedules"])

# What schedules.actions.validate_desired applies: the contract with the schedules' limits.
DESIRED_SCHEMA = {
    k: v for k, v in contract.desired_schema(
        contract.SCHEDULE_MAX_TRANSITION_MS,
        "an effect name; a light without that effect ignores it",
        min_properties=0,
    ).items() if k in ("additionalProperties", "properties")
}

TriggerKind = Literal["once", "weekly", "cron", "sunrise", "sunset"]


def _local_time(value: dt.time) -> dt.time:
    if value.tzinfo is not None:
        raise ValueError("is a local time in the home's time zone: give it without an offset")
    return value


# A wall-clock time without offset: JSON Schema's "time" format would demand one.
_LOCAL_TIME_SCHEMA = {
    "type": "string",
    "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
    "description": "local time in the home's time zone, HH:MM[:SS], no offset",
    "examples": ["07:30"],
}
LocalTime = Annotated[dt.time, AfterValidator(_local_time), WithJsonSchema(_LOCAL_TIME_SCHEMA)]


class ScheduleIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Name
    home: UUID | None = Field(None, description="default: the current home")
    trigger: TriggerKind
    run_date: dt.date | None = Field(None, description="once: local date")
    run_time: LocalTime | None = Field(None, description="once, weekly: local time")
    weekdays: list[int] = Field(default_factory=list, description="weekly: 0 = Monday")
    cron: PlainText = Field("", max_length=100, description="cron: 5 fields, local time")
    offset_minutes: int = Field(0, description="sunrise/sunset: minutes, negative = before")
    devices: list[UUID] = Field(default_factory=list)
    rooms: list[UUID] = Field(default_factory=list)
    scene: UUID | None = None
    desired: dict[str, Any] = Field(
        default_factory=dict, json_schema_extra=DESIRED_SCHEMA,
        description="light settings (docs/device-contract.md); empty with a scene",
    )
    enabled: bool = True


class SchedulePatch(Schema):
    """Only the keys given change. Null is a value only where it means "none": `run_date`,
    `run_time` and `scene`; the other keys are left out rather than sent as null."""

    model_config = ConfigDict(extra="forbid")

    name: Name = None  # type: ignore[assignment]
    trigger: TriggerKind = None  # type: ignore[assignment]
    run_date: dt.date | None = None
    run_time: LocalTime | None = None
    weekdays: list[int] = None  # type: ignore[assignment]
    cron: PlainText = Field(None, max_length=100)
    offset_minutes: int = None  # type: ignore[assignment]
    devices: list[UUID] = None  # type: ignore[assignment]
    rooms: list[UUID] = None  # type: ignore[assignment]
    scene: UUID | None = None
    desired: dict[str, Any] = Field(None, json_schema_extra=DESIRED_SCHEMA)  # type: ignore[assignment]
    enabled: bool = None  # type: ignore[assignment]


class PreviewOut(Schema):
    description: str
    next_runs: list[dt.datetime]
    notes: list[str]


class ScheduleOut(Schema):
    code: UUID
    home: UUID
    name: str
    description: str
    trigger: str
    run_date: dt.date | None
    run_time: LocalTime | None
    weekdays: list[int]
    cron: str
    offset_minutes: int
    devices: list[UUID]
    rooms: list[UUID]
    scene: UUID | None
    desired: dict[str, Any]
    enabled: bool
    next_run: dt.datetime | None
    last_run: dt.datetime | None
    last_result: dict[str, Any]
    mirrored: bool = Field(description="false while the EventBridge mirror is being updated")


class HomeFilter(Schema):
    home: UUID | None = None


def schedule_out(schedule: Schedule, pending: set[UUID] | None = None) -> dict[str, Any]:
    mirrored = schedule.code not in pending if pending is not None else schedule.is_synced
    return {
        "code": schedule.code,
        "home": schedule.home.code,
        "name": schedule.name,
        "description": schedule.description,
        "trigger": schedule.trigger,
        "run_date": schedule.run_date,
        "run_time": schedule.run_time,
        "weekdays": schedule.weekdays,
        "cron": schedule.cron,
        "offset_minutes": schedule.offset_minutes,
        "devices": [d.code for d in schedule.devices.all()],
        "rooms": [r.code for r in schedule.rooms.all()],
        "scene": schedule.scene.code if schedule.scene_id else None,
        "desired": schedule.desired,
        "enabled": schedule.enabled,
        "next_run": schedule.next_run,
        "last_run": schedule.last_run,
        "last_result": schedule.last_result,
        "mirrored": mirrored,
    }


def _schedule(request: HttpRequest, code: UUID, role: str) -> Schedule:
    try:
        schedule, _ = get_schedule_for_user(request.auth, code, role)
    except PermissionDenied as exc:
        raise HttpError(403, str(exc)) from exc
    return schedule


def _invalid(exc: actions.ScheduleInvalid) -> ValidationError:
    return ValidationError(
        [
            {"type": "value_error", "loc": ["body", "payload", *field.split(".")], "msg": reason}
            for field, reason in exc.errors
        ]
    )


def _clean(home: Home, raw: dict) -> actions.ScheduleData:
    try:
        return actions.clean_schedule(home, raw)
    except actions.ScheduleInvalid as exc:
        raise _invalid(exc) from exc


@router.get("", response=list[ScheduleOut], summary="Schedules of my homes")
def list_schedules(request, filters: Query[HomeFilter]):
    schedules = (
        Schedule.objects.filter(home__memberships__user=request.auth)
        .select_related("home", "scene")
        .prefetch_related("devices", "rooms")
        .order_by("name", "id")
    )
    if filters.home is not None:
        schedules = schedules.filter(home__code=filters.home)
    schedules = list(schedules)
    pending = set(
        MirrorOutbox.objects.filter(code__in=[s.code for s in schedules]).values_list(
            "code", flat=True
        )
    )
    return [schedule_out(s, pending) for s in schedules]


@router.post("", response={201: ScheduleOut}, summary="Create a schedule")
def create_schedule(request, payload: ScheduleIn):
    raw = payload.model_dump()
    home = get_home_for_api(request, raw.pop("home"), Role.MEMBER)
    schedule = actions.do_create_schedule(home, _clean(home, raw))
    return Status(201, schedule_out(schedule))


@router.post("/preview", response=PreviewOut, summary="Describe a trigger and its next 5 runs")
def preview_schedule(request, payload: ScheduleIn):
    raw = payload.model_dump()
    home = get_home_for_api(request, raw.pop("home"), Role.VIEWER)
    trigger = actions.trigger_of(home, _trigger_data(raw))
    now = timezone.now()
    try:
        timing.validate(trigger, now)
    except timing.TriggerError as exc:
        raise _invalid(actions.ScheduleInvalid([(exc.field, exc.reason)])) from exc
    runs = timing.next_runs(trigger, now, 5)
    return {"description": timing.describe(trigger), "next_runs": runs, "notes": trigger.notes}


def _trigger_data(raw: dict) -> actions.ScheduleData:
    return actions.ScheduleData(
        name=raw.get("name") or "",
        trigger=raw["trigger"],
        run_date=raw.get("run_date"),
        run_time=raw.get("run_time"),
        weekdays=sorted(set(raw.get("weekdays") or [])),
        cron=" ".join((raw.get("cron") or "").split()),
        offset_minutes=raw.get("offset_minutes") or 0,
    )


@router.get("/{code}", response=ScheduleOut)
def get_schedule(request, code: UUID):
    return schedule_out(_schedule(request, code, Role.VIEWER))


@router.patch("/{code}", response=ScheduleOut, summary="Change a schedule")
def update_schedule(request, code: UUID, payload: SchedulePatch):
    schedule = _schedule(request, code, Role.MEMBER)
    raw = actions.data_from_schedule(schedule)
    changes = payload.model_dump(exclude_unset=True)
    if changes.get("scene"):
        # Choosing a scene replaces lights, rooms and settings (unless given again, and then
        # clean_schedule says a scene and lights do not mix).
        raw.update(devices=[], rooms=[], desired={})
    elif {"desired", "devices", "rooms"} & changes.keys() and "scene" not in changes:
        raw["scene"] = None
    raw.update(changes)
    schedule = actions.do_update_schedule(schedule, _clean(schedule.home, raw))
    return schedule_out(schedule)


@router.post("/{code}/enable", response=ScheduleOut)
def enable_schedule(request, code: UUID):
    schedule = _schedule(request, code, Role.MEMBER)
    return schedule_out(actions.do_set_enabled(schedule, True))


@router.post("/{code}/disable", response=ScheduleOut)
def disable_schedule(request, code: UUID):
    schedule = _schedule(request, code, Role.MEMBER)
    return schedule_out(actions.do_set_enabled(schedule, False))


@router.delete("/{code}", response={204: None})
def delete_schedule(request, code: UUID):
    actions.do_delete_schedule(_schedule(request, code, Role.MEMBER))
    return Status(204, None)
