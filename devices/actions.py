"""Changes to lights, rooms and scenes. Views and the API call these after their access check.

Light changes go to AWS first (the shadow is the source of truth: docs/architecture.md, "Control");
the database keeps a cached copy of what was asked so the portal shows "pending" at once,
and the shadow-events consumer later replaces it with the shadow's own document.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import iot_cookie
from accounts.models import Home
from devices import shadow
from devices.models import ROOM_NAME_TAKEN, Device, Room, Scene
from smartlight import contract

log = logging.getLogger(__name__)

UNCHANGED = object()

# What a scene remembers of a light: its look, not how fast it fades in.
SCENE_KEYS = ("on", "brightness", "color", "effect", "speed")


@dataclass
class BatchResult:
    """The outcome of a change to several lights: who took it and who did not (and why)."""

    changed: list[Device] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # device name -> reason

    @property
    def ok(self) -> bool:
        return not self.failed


def do_set_desired(device: Device, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and write a partial desired state for one light; returns what was written.

    Raises contract.InvalidState (nothing sent, nothing saved) or a shadow.ShadowError.
    """
    clean = contract.validate_desired(changes, effects=device.effects)
    shadow.update_desired(device.thing_name, clean, device.reported)
    # Merge into the cache with one UPDATE of this row only: the consumer may be writing the
    # same row from a shadow document; its newer version wins the next time it runs.
    device.desired = {**(device.desired or {}), **clean}
    device.changed = timezone.now()
    device.save(update_fields=["desired", "changed"])
    return clean


def do_set_many(devices: Iterable[Device], changes: Mapping[str, Any]) -> BatchResult:
    """The same change for several lights (a room); one failing light does not stop the rest.

    The change is validated once against the contract before any light is written, so a bad
    request changes nothing. An effect is then checked per light (their effects differ).
    """
    devices = list(devices)
    # Every key's form, an effect's name included; an empty request fails here too.
    contract.validate_desired(changes)
    result = BatchResult()
    for device in devices:
        try:
            do_set_desired(device, changes)
        except (contract.InvalidState, shadow.ShadowError) as exc:
            result.failed[device.name] = _reason(exc)
        else:
            result.changed.append(device)
    return result


def _reason(exc: Exception) -> str:
    return exc.reason if isinstance(exc, shadow.ShadowError) else str(exc)


def scene_state_of(device: Device) -> dict[str, Any]:
    """The look of a light worth saving: what it shows (reported), else what was asked."""
    look = device.look if not device.reported else device.shown
    return {key: look[key] for key in SCENE_KEYS if key in look}


def do_save_scene(home: Home, name: str, devices: Iterable[Device]) -> Scene:
    """Save (or overwrite) the scene `name` with the current look of `devices`."""
    states = {device.thing_name: scene_state_of(device) for device in devices}
    with transaction.atomic():
        scene, _ = Scene.objects.update_or_create(
            home=home, name=name, defaults={"states": states}
        )
    return scene


def do_apply_scene(scene: Scene) -> BatchResult:
    """Write each saved light's look to its shadow; lights gone from the home are skipped."""
    result = BatchResult()
    devices = Device.objects.filter(home=scene.home, thing_name__in=list(scene.states))
    for device in devices:
        state = scene.states.get(device.thing_name) or {}
        if state.get("effect") not in (None, *device.effects):
            # The light no longer offers that effect (firmware changed): keep the rest.
            state = {k: v for k, v in state.items() if k != "effect"}
        try:
            do_set_desired(device, state)
        except (contract.InvalidState, shadow.ShadowError) as exc:
            result.failed[device.name] = _reason(exc)
        else:
            result.changed.append(device)
    return result


def do_identify(device: Device) -> str:
    return shadow.publish_cmd(device.thing_name, "identify")


def do_reboot(device: Device) -> str:
    return shadow.publish_cmd(device.thing_name, "reboot")


def do_repush_desired(device: Device) -> dict[str, Any]:
    """Write the cached desired state to the shadow again (e.g. after a shadow was reset)."""
    desired = {k: v for k, v in (device.desired or {}).items() if k in contract.DESIRED_KEYS}
    return shadow.update_desired(device.thing_name, desired, device.reported,
                                 max_transition_ms=shadow.FIRMWARE_MAX_TRANSITION_MS)


def do_refresh_from_shadow(device: Device) -> Device:
    """Replace the cached copy with the live shadow document (operators' repair action)."""
    from devices.ingest import cache_fields_from_shadow

    document = shadow.get_shadow(device.thing_name)
    with transaction.atomic():
        locked = Device.objects.select_for_update().get(pk=device.pk)
        for name, value in cache_fields_from_shadow(document, locked).items():
            setattr(locked, name, value)
        locked.save()
    return locked


# Schedules' EventBridge mirrors list the thing names they set (docs/device-contract.md), so
# every change to which lights a schedule reaches re-mirrors those schedules, in the same
# transaction.


def do_update_device(device: Device, *, name: str | None = None,
                     room: Room | None | object = UNCHANGED) -> Device:
    """Rename a light and/or move it to another room of its home (or out of any room)."""
    from schedules.actions import mirror_schedules_targeting

    fields = []
    old_room = device.room
    if name is not None and name != device.name:
        device.name = name
        fields.append("name")
    if room is not UNCHANGED and room != old_room:
        device.room = room
        fields.append("room")
    if not fields:
        return device
    with transaction.atomic():
        device.save(update_fields=fields)
        if "room" in fields:
            # Schedules of the room it left and of the room it joined now set other lights.
            mirror_schedules_targeting(devices=[device], rooms=[r for r in [old_room] if r])
    return device


def do_delete_device(device: Device) -> None:
    """Remove a light from its home; its members' iot_cookie items lose the thing."""
    from schedules.actions import mirror_schedules_targeting

    with transaction.atomic():
        home = device.home
        # Marked before the delete: afterwards the schedules no longer name the light.
        mirror_schedules_targeting(devices=[device])
        device.delete()
        iot_cookie.mark_home(home)


class RoomNameTaken(contract.InvalidState):
    """Room names are unique in a home whatever their case ("Kitchen" and "kitchen" clash)."""

    def __init__(self) -> None:
        super().__init__([contract.FieldError("name", ROOM_NAME_TAKEN)])


def _save_room(room: Room, **save: Any) -> Room:
    # The database's constraint (devices/models.py, on lower(name)) is the rule; the query only
    # answers the usual case without relying on the error.
    clash = Room.objects.filter(home=room.home, name__iexact=room.name).exclude(pk=room.pk)
    if clash.exists():
        raise RoomNameTaken
    try:
        with transaction.atomic():
            room.save(**save)
    except IntegrityError as exc:  # a concurrent request took the name first
        raise RoomNameTaken from exc
    return room


def do_create_room(home: Home, name: str) -> Room:
    """Add a room; RoomNameTaken when the home has one of that name in any case."""
    return _save_room(Room(home=home, name=name))


def do_rename_room(room: Room, name: str) -> Room:
    old = room.name
    room.name = name
    try:
        return _save_room(room, update_fields=["name"])
    except RoomNameTaken:
        room.name = old
        raise


def do_delete_room(room: Room) -> None:
    """Remove a room; its lights stay in the home, without a room."""
    from schedules.actions import mirror_schedules_targeting

    with transaction.atomic():
        mirror_schedules_targeting(rooms=[room])
        room.delete()


def do_delete_scene(scene: Scene) -> int:
    """Delete a scene. Schedules that applied it have nothing left to do: they are switched
    off (not deleted, so nobody's schedule vanishes) and say why. Returns how many."""
    from schedules.actions import mirror_schedules_targeting
    from schedules.models import Schedule

    with transaction.atomic():
        affected = list(Schedule.objects.filter(scene=scene).values_list("pk", flat=True))
        mirror_schedules_targeting(scenes=[scene])
        scene.delete()
        Schedule.objects.filter(pk__in=affected).update(
            enabled=False, next_run=None,
            last_result={"status": "disabled", "reason": f"its scene “{scene.name}” was deleted"},
        )
    return len(affected)
