"""Changes to schedules. Each runs in one transaction that also writes the mirror outbox row;
the push to EventBridge is scheduled with transaction.on_commit (smartlight.outbox,
docs/architecture.md).

The receivers at the end are how accounts and devices, which sit below schedules and do not
import it, reach schedules: SchedulesConfig.ready registers them in their hooks modules."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Home
from devices.models import Device, Room, Scene
from schedules import mirror, timing
from schedules.models import MirrorOutbox, Schedule
from smartlight import contract, outbox

log = logging.getLogger(__name__)

# EventBridge caps a target's Input at 8,192 characters; a thing name costs 18 in the JSON.
MAX_THINGS = 300


class ScheduleInvalid(Exception):
    """Bad input: a list of (field, reason). Nothing was changed."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {r}" for f, r in errors))
        self.errors = errors


@dataclass
class ScheduleData:
    """Validated input for a schedule, with targets resolved to this home's rows."""

    name: str
    trigger: str
    run_date: dt.date | None = None
    run_time: dt.time | None = None
    weekdays: list[int] = field(default_factory=list)
    cron: str = ""
    offset_minutes: int = 0
    devices: list[Device] = field(default_factory=list)
    rooms: list[Room] = field(default_factory=list)
    scene: Scene | None = None
    desired: dict = field(default_factory=dict)
    enabled: bool = True


def validate_desired(desired: Any) -> dict:
    """A schedule's desired state, by the contract (smartlight/contract.py) with the schedules'
    limits: a fade of up to 15 minutes, and an effect checked for its form only, since one
    schedule reaches lights with different effects."""
    try:
        return contract.validate_desired(
            desired, max_transition_ms=contract.SCHEDULE_MAX_TRANSITION_MS, allow_empty=True
        )
    except contract.InvalidState as exc:
        raise ScheduleInvalid(
            [(f"desired.{e.field}" if e.field != "desired" else "desired", e.reason)
             for e in exc.errors]
        ) from exc


def clean_schedule(home: Home, raw: dict, now: dt.datetime | None = None) -> ScheduleData:
    """Validate raw input (codes for targets) against `home`; raise ScheduleInvalid."""
    now = now or timezone.now()
    errors: list[tuple[str, str]] = []
    name = (raw.get("name") or "").strip()
    if not name:
        errors.append(("name", "Give the schedule a name."))
    elif len(name) > 100:
        errors.append(("name", "The name is at most 100 characters."))

    devices = _resolve(Device, home, raw.get("devices") or [], "devices", errors)
    rooms = _resolve(Room, home, raw.get("rooms") or [], "rooms", errors)
    scene = None
    if raw.get("scene"):
        found = _resolve(Scene, home, [raw["scene"]], "scene", errors)
        scene = found[0] if found else None

    desired: dict = {}
    if raw.get("scene"):  # asked for a scene: a foreign one is its only error, said above
        if devices or rooms:
            errors.append(("scene", "Choose a scene or lights and rooms, not both."))
        if raw.get("desired"):
            errors.append(("desired", "A scene brings its own light settings."))
    else:
        try:
            desired = validate_desired(raw.get("desired") or {})
        except ScheduleInvalid as exc:
            errors.extend(exc.errors)
        if not desired and not any(f.startswith("desired") for f, _ in errors):
            errors.append(("desired", "Say what the lights should do (e.g. on, brightness)."))
        if not devices and not rooms and not any(f in ("devices", "rooms") for f, _ in errors):
            errors.append(("devices", "Choose at least one light, room or a scene."))

    things = {d.thing_name for d in devices}
    if rooms:
        things.update(Device.objects.filter(room__in=rooms).values_list("thing_name", flat=True))
    if scene is not None:
        things.update(scene.states.keys())
    if len(things) > MAX_THINGS:
        errors.append(
            ("devices", f"A schedule sets at most {MAX_THINGS} lights; this names {len(things)}.")
        )

    data = ScheduleData(
        name=name,
        trigger=raw.get("trigger") or "",
        run_date=raw.get("run_date"),
        run_time=raw.get("run_time"),
        weekdays=sorted(set(raw.get("weekdays") or [])),
        cron=" ".join((raw.get("cron") or "").split()),
        offset_minutes=int(raw.get("offset_minutes") or 0),
        devices=devices,
        rooms=rooms,
        scene=scene,
        desired=desired,
        enabled=bool(raw.get("enabled", True)),
    )
    try:
        timing.validate(trigger_of(home, data), now)
    except timing.TriggerError as exc:
        errors.append((exc.field, exc.reason))
    if errors:
        raise ScheduleInvalid(errors)
    return data


def trigger_of(home: Home, data: ScheduleData) -> timing.Trigger:
    return timing.Trigger(
        kind=data.trigger,
        tz=home.timezone,
        date=data.run_date,
        time=data.run_time,
        weekdays=tuple(data.weekdays),
        cron=data.cron,
        offset_minutes=data.offset_minutes,
        latitude=home.latitude,
        longitude=home.longitude,
    )


def _resolve(model, home: Home, codes: list, where: str, errors: list) -> list:
    """Rows of `model` in `home` for these codes; a code of another home is an error."""
    wanted = []
    for code in codes:
        try:
            wanted.append(str(code if not hasattr(code, "code") else code.code))
        except (TypeError, ValueError):
            errors.append((where, f"{code!r} is not a valid id."))
    if not wanted:
        return []
    try:
        rows = list(model.objects.filter(home=home, code__in=wanted))
    except Exception:  # noqa: BLE001 - a malformed UUID string is a validation error
        errors.append((where, "Not a valid id."))
        return []
    missing = set(wanted) - {str(r.code) for r in rows}
    if missing:
        errors.append((where, f"Not in this home: {', '.join(sorted(missing))}."))
    return rows


# --- the mirror outbox -----------------------------------------------------------------------
MIRROR = "schedule_mirror"
# Immediate attempts when the push runs in-process (no worker to retry it later).
EAGER_ATTEMPTS = 3


def register_mirror() -> None:
    """Register the EventBridge mirror with the one outbox (SchedulesConfig.ready)."""
    outbox.register(outbox.Mirror(MIRROR, MirrorOutbox, "code", push_mirror,
                                  eager_attempts=EAGER_ATTEMPTS))


def push_mirror(code: str) -> str:
    """Bring one schedule's mirror up to date (the outbox's push for this mirror)."""
    outcome = mirror.push(code)
    warning = mirror.quota_status()
    if warning:
        log.warning(warning)
    return outcome


def mark_for_mirror(code) -> None:
    """Record that the mirror of `code` is stale (inside the caller's transaction) and push it
    once the transaction commits."""
    outbox.mark(MIRROR, [code])


# --- actions -------------------------------------------------------------------------------
def _apply(schedule: Schedule, data: ScheduleData, now: dt.datetime) -> None:
    schedule.name = data.name
    schedule.trigger = data.trigger
    schedule.run_date = data.run_date if data.trigger == timing.ONCE else None
    schedule.run_time = data.run_time if data.trigger in (timing.ONCE, timing.WEEKLY) else None
    schedule.weekdays = data.weekdays if data.trigger == timing.WEEKLY else []
    schedule.cron = data.cron if data.trigger == timing.CRON else ""
    schedule.offset_minutes = data.offset_minutes if data.trigger in timing.SUN_KINDS else 0
    schedule.scene = data.scene
    schedule.desired = data.desired if data.scene is None else {}
    schedule.enabled = data.enabled
    schedule.updated = now
    schedule.next_run = schedule.compute_next_run(now)


def do_create_schedule(home: Home, data: ScheduleData, now: dt.datetime | None = None) -> Schedule:
    now = now or timezone.now()
    with transaction.atomic():
        schedule = Schedule(home=home, created=now)
        _apply(schedule, data, now)
        schedule.save()
        schedule.devices.set(data.devices)
        schedule.rooms.set(data.rooms)
        mark_for_mirror(schedule.code)
    return schedule


def do_update_schedule(
    schedule: Schedule, data: ScheduleData, now: dt.datetime | None = None
) -> Schedule:
    now = now or timezone.now()
    with transaction.atomic():
        _apply(schedule, data, now)
        schedule.save()
        schedule.devices.set(data.devices)
        schedule.rooms.set(data.rooms)
        mark_for_mirror(schedule.code)
    return schedule


def do_set_enabled(schedule: Schedule, enabled: bool, now: dt.datetime | None = None) -> Schedule:
    now = now or timezone.now()
    with transaction.atomic():
        schedule.enabled = enabled
        schedule.updated = now
        # Re-enabling starts from now: runs missed while disabled are not caught up.
        schedule.next_run = schedule.compute_next_run(now) if enabled else schedule.next_run
        schedule.save(update_fields=["enabled", "updated", "next_run"])
        mark_for_mirror(schedule.code)
    return schedule


def do_delete_schedule(schedule: Schedule) -> None:
    with transaction.atomic():
        code = schedule.code
        schedule.delete()
        mark_for_mirror(code)


def data_from_schedule(schedule: Schedule) -> dict:
    """The raw input that recreates this schedule (for edits that change one field)."""
    return {
        "name": schedule.name,
        "trigger": schedule.trigger,
        "run_date": schedule.run_date,
        "run_time": schedule.run_time,
        "weekdays": list(schedule.weekdays),
        "cron": schedule.cron,
        "offset_minutes": schedule.offset_minutes,
        "devices": [str(d.code) for d in schedule.devices.all()],
        "rooms": [str(r.code) for r in schedule.rooms.all()],
        "scene": str(schedule.scene.code) if schedule.scene_id else None,
        "desired": dict(schedule.desired),
        "enabled": schedule.enabled,
    }


# --- receivers of accounts' and devices' hooks -------------------------------------------------
def mirror_schedules_targeting(devices=(), rooms=(), scenes=()) -> int:
    """Re-mirror the schedules whose Lambda input names these lights, rooms or scenes.

    Call it in the transaction that renames a thing, moves a light between rooms, edits or
    deletes a scene: the mirror's Input lists thing names and states, so it must follow.
    Returns the count.
    """
    device_ids = [d.pk for d in devices]
    room_ids = [r.pk for r in rooms] + [d.room_id for d in devices if d.room_id]
    scene_ids = [s.pk for s in scenes]
    query = Q(devices__in=device_ids) | Q(rooms__in=room_ids) | Q(scene__in=scene_ids)
    codes = set(Schedule.objects.filter(query).values_list("code", flat=True))
    for code in codes:
        mark_for_mirror(code)
    return len(codes)


def schedules_targets_changed(devices=(), rooms=(), scenes=()) -> int:
    """devices.hooks.targets_changed: lights moved, joined or left, rooms or scenes changed.

    A light or room now in another home leaves the first home's schedules (a schedule never
    reaches into another home). Returns how many schedules were marked.
    """
    count = mirror_schedules_targeting(devices=devices, rooms=rooms, scenes=scenes)
    for device in devices:
        for schedule in Schedule.objects.filter(devices=device).exclude(home_id=device.home_id):
            schedule.devices.remove(device)
    for room in rooms:
        for schedule in Schedule.objects.filter(rooms=room).exclude(home_id=room.home_id):
            schedule.rooms.remove(room)
    return count


def disable_schedules_of_scene(scene: Scene) -> int:
    """devices.hooks.scene_deleting: schedules that applied the scene have nothing left to do.
    They are switched off (not deleted, so nobody's schedule vanishes) and say why."""
    affected = list(Schedule.objects.filter(scene=scene).values_list("code", flat=True))
    Schedule.objects.filter(code__in=affected).update(
        enabled=False, next_run=None,
        last_result={"status": "disabled", "reason": f"its scene “{scene.name}” was deleted"},
    )
    for code in affected:
        mark_for_mirror(code)
    return len(affected)


def sun_schedules_needing_location(home: Home) -> list[str]:
    """accounts.hooks.location_needed: sunrise and sunset schedules need the home's location."""
    sun = Schedule.objects.filter(home=home, trigger__in=list(timing.SUN_KINDS))
    names = sorted(sun.values_list("name", flat=True))
    if not names:
        return []
    return [
        f"Sunrise and sunset schedules need the home's location ({', '.join(names[:5])}): "
        "change or delete them before removing it."
    ]


def do_home_clock_changed(home: Home, now: dt.datetime | None = None) -> int:
    """accounts.hooks.home_clock_changed: the home's time zone or location changed, so every
    schedule's next run and mirror move. Returns the number of schedules updated."""
    now = now or timezone.now()
    count = 0
    with transaction.atomic():
        for schedule in Schedule.objects.filter(home=home).select_related("home"):
            schedule.home = home  # the caller's unsaved-or-just-saved values
            schedule.next_run = schedule.compute_next_run(now) if schedule.enabled else None
            schedule.updated = now
            schedule.save(update_fields=["next_run", "updated"])
            mark_for_mirror(schedule.code)
            count += 1
    return count
