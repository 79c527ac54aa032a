"""What apps built on devices (schedules) are told about lights, rooms and scenes.

Apps depend in one direction, accounts ← devices ← schedules: devices never imports schedules.
A schedule's EventBridge mirror lists the thing names and states it sets, so every change to
which lights a room holds, where a light is, or what a scene sets must reach it, in the same
transaction. Devices' actions and admin call these functions explicitly at each such change;
schedules registers its receivers in SchedulesConfig.ready. Not Django signals: the call sites
are the actions themselves, and a reader finds every receiver by searching for `on_`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devices.models import Device, Room, Scene

TargetsChanged = Callable[..., object]
SceneDeleting = Callable[["Scene"], int]

_targets_changed: list[TargetsChanged] = []
_scene_deleting: list[SceneDeleting] = []


def on_targets_changed(receiver: TargetsChanged) -> TargetsChanged:
    """`receiver(devices=[...], rooms=[...], scenes=[...])` after lights moved, joined or left
    rooms or homes, a room went, or a scene's states changed (inside the transaction)."""
    if receiver not in _targets_changed:
        _targets_changed.append(receiver)
    return receiver


def on_scene_deleting(receiver: SceneDeleting) -> SceneDeleting:
    """`receiver(scene) -> count` just before a scene is deleted; returns how many of its users
    (schedules) it switched off."""
    if receiver not in _scene_deleting:
        _scene_deleting.append(receiver)
    return receiver


def targets_changed(
    *,
    devices: Iterable[Device] = (),
    rooms: Iterable[Room] = (),
    scenes: Iterable[Scene] = (),
) -> None:
    """Tell the apps above that what these lights, rooms or scenes reach has changed.

    Pass a light with the rooms it left; the room it is in now is taken from the light.
    """
    devices, rooms, scenes = list(devices), [r for r in rooms if r], list(scenes)
    for receiver in _targets_changed:
        receiver(devices=devices, rooms=rooms, scenes=scenes)


def scene_deleting(scene: Scene) -> int:
    return sum(receiver(scene) for receiver in _scene_deleting)
