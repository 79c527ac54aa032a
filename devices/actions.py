"""Changes to lights, rooms and scenes. Views and the API call these after their access check.

Light changes go to AWS first (the shadow is the source of truth, DESIGN section 6 "Control");
the database keeps a cached copy of what was asked so the portal shows "pending" at once,
and the shadow-events consumer later replaces it with the shadow's own document.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts import iot_cookie
from accounts.models import Home
from devices import hooks, shadow
from devices.models import Device, Room, Scene

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

    Raises shadow.InvalidDesired (nothing sent, nothing saved) or another ShadowError.
    """
    clean = shadow.validate_desired(changes, device.reported)
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
    common = {k: v for k, v in changes.items() if k != "effect"}
    if common or not changes:
        shadow.validate_desired(common)  # an empty request fails here too
    result = BatchResult()
    for device in devices:
        try:
            do_set_desired(device, changes)
        except shadow.ShadowError as exc:
            result.failed[device.name] = str(exc)
        else:
            result.changed.append(device)
    return result


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
        # Overwriting a scene changes what the schedules that apply it set.
        hooks.targets_changed(scenes=[scene])
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
        except shadow.ShadowError as exc:
            result.failed[device.name] = str(exc)
        else:
            result.changed.append(device)
    return result


def do_identify(device: Device) -> str:
    return shadow.publish_cmd(device.thing_name, "identify")


def do_reboot(device: Device) -> str:
    return shadow.publish_cmd(device.thing_name, "reboot")


def do_repush_desired(device: Device) -> dict[str, Any]:
    """Write the cached desired state to the shadow again (e.g. after a shadow was reset)."""
    desired = {k: v for k, v in (device.desired or {}).items() if k in shadow.DESIRED_KEYS}
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


# Schedules' EventBridge mirrors list the thing names they set, so every change to which lights a
# schedule reaches tells them through devices.hooks, in the same transaction.


def do_update_device(device: Device, *, name: str | None = None,
                     room: Room | None | object = UNCHANGED) -> Device:
    """Rename a light and/or move it to another room of its home (or out of any room)."""
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
            hooks.targets_changed(devices=[device], rooms=[old_room])
    return device


def do_delete_device(device: Device) -> None:
    """Remove a light from its home; its members' iot_cookie items lose the thing."""
    with transaction.atomic():
        home = device.home
        # Told before the delete: afterwards the schedules no longer name the light.
        hooks.targets_changed(devices=[device])
        device.delete()
        iot_cookie.mark_home(home)


def do_create_room(home: Home, name: str) -> Room:
    return Room.objects.create(home=home, name=name)


def do_delete_room(room: Room) -> None:
    """Remove a room; its lights stay in the home, without a room."""
    with transaction.atomic():
        hooks.targets_changed(rooms=[room])
        room.delete()


def do_delete_scene(scene: Scene) -> int:
    """Delete a scene. Schedules that applied it have nothing left to do: they are switched
    off (not deleted, so nobody's schedule vanishes) and say why. Returns how many."""
    with transaction.atomic():
        affected = hooks.scene_deleting(scene)
        scene.delete()
    return affected
