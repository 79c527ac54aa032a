"""Devices, rooms and scenes in the JSON API (mounted at /api/v1/ by smartlight/api.py).

Authentication (session or personal token) is set on the NinjaAPI. Every object is fetched
through devices/access.py: other homes' objects answer 404, a viewer's writes 403. Bad input
answers 422 in ninja's validation format, `{"detail": [{"loc": [..., field], "msg": reason}]}`,
whether pydantic or the light-state contract (smartlight/contract.py) found it; the contract's
and the shadow gateway's errors are turned into responses in one place, smartlight/api.py.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from ninja import Body, Field, Query, Router, Schema, Status
from ninja.errors import HttpError, ValidationError
from pydantic import ConfigDict

from accounts.access import get_home_for_api
from accounts.api_auth import client_address
from accounts.models import Membership, Role
from devices import actions, claims, words
from devices.access import get_device_for_user, get_room_for_user, get_scene_for_user
from devices.models import Device, Room, Scene
from devices.picture import frame_pixels, frames_dir, read_frame, state_pixels
from smartlight import contract
from smartlight.text import Name

router = Router(tags=["devices"])

T = TypeVar("T")

# --- schemas ---------------------------------------------------------------------------------
STATE_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": contract.desired_schema(
            contract.INTERACTIVE_MAX_TRANSITION_MS,
            effect_note="one of the light's reported effects (`effects`); solid always exists",
        )}},
    }
}


class DeviceOut(Schema):
    code: UUID
    name: str
    thing_name: str
    home: UUID
    room: UUID | None
    connected: bool
    last_seen: datetime | None
    fw: str
    led_count: int
    effects: list[str]
    desired: dict[str, Any]
    reported: dict[str, Any]
    pending: dict[str, Any] = Field(description="desired keys the light does not show yet")
    look: dict[str, Any] = Field(
        description="what a control for the light shows: the desired value where one is asked, "
                    "else the reported one (light-state keys, defaults filled in)")
    shown: dict[str, Any] = Field(
        description="what the light shows, as it last reported (light-state keys, defaults "
                    "filled in)")
    words: str = Field(description="what the light shows in plain words, "
                                   "e.g. “shows on · 80 % · Warm white”")
    picture: list[str] = Field(
        description="colours along the strip (#rrggbb, at most 8): the light's last rendered "
                    "frame where the platform has one, else drawn from `shown`")
    role: Role = Field(description="the caller's role in the light's home")


class DevicePatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Name = None  # type: ignore[assignment]  # left out, never null: the name stays
    room: UUID | None = Field(None, description="a room of the same home; null: no room")


class RoomOut(Schema):
    code: UUID
    home: UUID
    name: str
    devices: list[UUID]


class RoomIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Name
    home: UUID | None = Field(None, description="default: the current home")


class RoomPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Name


class SceneOut(Schema):
    code: UUID
    home: UUID
    name: str
    states: dict[str, dict[str, Any]]


class SceneIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Name
    devices: list[UUID] = Field(min_length=1, description="lights whose current look to save")
    home: UUID | None = Field(None, description="default: the current home")


class ClaimIn(Schema):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=40, examples=["ABCDE-FGHJK"],
                      description="the claim code on the light's label")
    home: UUID | None = Field(None, description="default: the current home")
    name: Name | None = Field(None, description="default: “New light”")
    room: UUID | None = Field(None, description="a room of that home")


class Problem(Schema):
    detail: str


class BatchOut(Schema):
    changed: list[UUID]
    failed: dict[str, str]


class HomeFilter(Schema):
    home: UUID | None = None


# --- helpers ---------------------------------------------------------------------------------
def _fetch(fetch: Callable[..., tuple[T, Any]], request: HttpRequest, code,
           role: str) -> tuple[T, Any]:
    """The caller's object and their membership of its home; 403 below `role`."""
    try:
        return fetch(request.auth, code, role)
    except PermissionDenied as exc:
        raise HttpError(403, str(exc) or "Forbidden") from exc


def _scoped(fetch: Callable[..., tuple[T, Any]], request: HttpRequest, code, role: str) -> T:
    return _fetch(fetch, request, code, role)[0]


def _scoped_device(request: HttpRequest, code: UUID, role: str) -> tuple[Device, str]:
    """The caller's light and their role in its home (part of every light the API answers)."""
    device, membership = _fetch(get_device_for_user, request, code, role)
    return device, membership.role


def device_out(device: Device, role: str, frames: Path | None = None) -> dict[str, Any]:
    """A light as the API answers it; `frames` is where simulated lights draw (local mode)."""
    shown = device.shown
    frame = read_frame(device.thing_name, frames) if frames is not None else None
    return {
        "code": device.code,
        "name": device.name,
        "thing_name": device.thing_name,
        "home": device.home.code,
        "room": device.room.code if device.room else None,
        "connected": device.connected,
        "last_seen": device.last_seen,
        "fw": device.fw,
        "led_count": device.led_count,
        "effects": device.effects,
        "desired": device.desired,
        "reported": device.reported,
        "pending": device.pending,
        "look": device.look,
        "shown": shown,
        "words": words.shown_text(shown),
        "picture": frame_pixels(frame) if frame else state_pixels(shown, device.led_count or 30),
        "role": role,
    }


def room_out(room: Room) -> dict[str, Any]:
    return {
        "code": room.code,
        "home": room.home.code,
        "name": room.name,
        "devices": [d.code for d in room.devices.all()],
    }


def scene_out(scene: Scene) -> dict[str, Any]:
    return {"code": scene.code, "home": scene.home.code, "name": scene.name,
            "states": scene.states}


def batch_out(result: actions.BatchResult) -> dict[str, Any]:
    return {"changed": [d.code for d in result.changed], "failed": result.failed}


def _mine(model, request: HttpRequest, home: UUID | None) -> QuerySet:
    qs = model.objects.filter(home__memberships__user=request.auth).select_related("home")
    if home is not None:
        qs = qs.filter(home__code=home)
    return qs


# --- devices ---------------------------------------------------------------------------------
@router.get("/devices", response={200: list[DeviceOut], 304: None}, summary="Lights of my homes")
def list_devices(
    request: HttpRequest, filters: Query[HomeFilter], response: HttpResponse,
) -> list[dict[str, Any]] | HttpResponse:
    """Answers 304 Not Modified to `If-None-Match` with the last answer's ETag while none of
    these lights changed (nor the caller's roles): the portal's home screen asks every second,
    so an idle one costs two small queries."""
    roles = dict(Membership.objects.filter(user=request.auth).values_list("home_id", "role"))
    devices = _mine(Device, request, filters.home)
    frames = frames_dir()
    tag = _etag(devices, roles, frames)
    headers = {"ETag": tag, "Cache-Control": "private, no-cache"}
    if tag in request.headers.get("If-None-Match", ""):
        return HttpResponseNotModified(headers=headers)
    for name, value in headers.items():
        response[name] = value
    return [device_out(d, roles[d.home_id], frames)
            for d in devices.select_related("room").order_by("name", "id")]


def _etag(devices: QuerySet, roles: dict[int, str], frames: Path | None) -> str:
    """A fingerprint of everything the list shows: how many lights, when the last one changed,
    the caller's roles and, where simulated lights draw (their frames change without the
    database: an effect animates), the newest frame."""
    stats = devices.aggregate(n=Count("id"), t=Max("changed"))
    parts = [str(stats["n"]), stats["t"].isoformat() if stats["t"] else "-",
             repr(sorted(roles.items()))]
    if frames is not None:
        newest = 0
        for thing in devices.values_list("thing_name", flat=True):
            with contextlib.suppress(OSError):
                newest = max(newest, (frames / thing / "frame.json").stat().st_mtime_ns)
        parts.append(str(newest))
    return '"' + hashlib.blake2s("|".join(parts).encode(), digest_size=12).hexdigest() + '"'


@router.get("/devices/{code}", response=DeviceOut)
def get_device(request: HttpRequest, code: UUID) -> dict[str, Any]:
    return device_out(*_scoped_device(request, code, Role.VIEWER), frames_dir())


@router.patch("/devices/{code}/state", response=DeviceOut, summary="Change a light",
              openapi_extra=STATE_BODY)
def set_state(
    request: HttpRequest, code: UUID, payload: dict[str, Any] = Body(...),
) -> dict[str, Any]:
    device, role = _scoped_device(request, code, Role.MEMBER)
    actions.do_set_desired(device, payload)
    return device_out(device, role, frames_dir())


@router.patch("/devices/{code}", response=DeviceOut, summary="Rename a light or move it")
def update_device(request: HttpRequest, code: UUID, payload: DevicePatch) -> dict[str, Any]:
    device, role = _scoped_device(request, code, Role.MEMBER)
    data = payload.model_dump(exclude_unset=True)
    room: Room | None | object = actions.UNCHANGED
    if "room" in data:
        room = None
        if data["room"] is not None:
            room = Room.objects.filter(home=device.home, code=data["room"]).first()
            if room is None:
                raise ValidationError([{"type": "value_error", "loc": ["body", "payload", "room"],
                                        "msg": "is not a room of this light's home"}])
    actions.do_update_device(device, name=data.get("name"), room=room)
    return device_out(device, role, frames_dir())


@router.delete("/devices/{code}", response={204: None}, summary="Remove a light (owner)")
def delete_device(request: HttpRequest, code: UUID) -> tuple[int, None]:
    device, _role = _scoped_device(request, code, Role.OWNER)
    actions.do_delete_device(device)
    return Status(204, None)


@router.post("/claims", response={201: DeviceOut, 409: Problem, 429: Problem},
             summary="Add a light with its claim code")
def claim_light(request: HttpRequest, payload: ClaimIn) -> tuple[int, dict[str, Any]]:
    """Members and owners add a light the platform made. A wrong, used or expired code all
    answer the same 422; too many wrong codes from one person or address answer 429."""
    home = get_home_for_api(request, payload.home, Role.MEMBER)
    room = None
    if payload.room is not None:
        room = Room.objects.filter(home=home, code=payload.room).first()
        if room is None:
            raise ValidationError([{"type": "value_error", "loc": ["body", "payload", "room"],
                                    "msg": "is not a room of this home"}])
    address = client_address(request)
    if claims.too_many_guesses(request.auth.pk, address):
        raise HttpError(429, "Too many wrong codes; wait a quarter of an hour and try again.")
    try:
        device = actions.do_claim_light(home, payload.code, name=payload.name or "", room=room)
    except actions.InvalidClaimCode as exc:
        claims.count_wrong_guess(request.auth.pk, address)
        raise ValidationError([{"type": "value_error", "loc": ["body", "payload", "code"],
                                "msg": str(exc)}]) from exc
    except actions.ClaimError as exc:
        raise HttpError(409, str(exc)) from exc
    role = Membership.objects.get(home=home, user=request.auth).role
    return Status(201, device_out(device, role, frames_dir()))


# --- rooms -----------------------------------------------------------------------------------
@router.get("/rooms", response=list[RoomOut])
def list_rooms(request: HttpRequest, filters: Query[HomeFilter]) -> list[dict[str, Any]]:
    rooms = _mine(Room, request, filters.home).prefetch_related("devices").order_by("name", "id")
    return [room_out(r) for r in rooms]


@router.post("/rooms", response={201: RoomOut})
def create_room(request: HttpRequest, payload: RoomIn) -> tuple[int, dict[str, Any]]:
    home = get_home_for_api(request, payload.home, Role.MEMBER)
    room = actions.do_create_room(home, payload.name)
    return Status(201, room_out(room))


@router.get("/rooms/{code}", response=RoomOut)
def get_room(request: HttpRequest, code: UUID) -> dict[str, Any]:
    return room_out(_scoped(get_room_for_user, request, code, Role.VIEWER))


@router.patch("/rooms/{code}", response=RoomOut)
def rename_room(request: HttpRequest, code: UUID, payload: RoomPatch) -> dict[str, Any]:
    room = _scoped(get_room_for_user, request, code, Role.MEMBER)
    return room_out(actions.do_rename_room(room, payload.name))


@router.delete("/rooms/{code}", response={204: None})
def delete_room(request: HttpRequest, code: UUID) -> tuple[int, None]:
    actions.do_delete_room(_scoped(get_room_for_user, request, code, Role.MEMBER))
    return Status(204, None)


@router.patch("/rooms/{code}/state", response=BatchOut, summary="Change every light of a room",
              openapi_extra=STATE_BODY)
def set_room_state(
    request: HttpRequest, code: UUID, payload: dict[str, Any] = Body(...),
) -> dict[str, Any]:
    room = _scoped(get_room_for_user, request, code, Role.MEMBER)
    return batch_out(actions.do_set_many(room.devices.all(), payload))


# --- scenes ----------------------------------------------------------------------------------
@router.get("/scenes", response=list[SceneOut])
def list_scenes(request: HttpRequest, filters: Query[HomeFilter]) -> list[dict[str, Any]]:
    return [scene_out(s) for s in _mine(Scene, request, filters.home).order_by("name", "id")]


@router.post("/scenes", response={201: SceneOut}, summary="Save the current look of lights")
def create_scene(request: HttpRequest, payload: SceneIn) -> tuple[int, dict[str, Any]]:
    home = get_home_for_api(request, payload.home, Role.MEMBER)
    devices = list(Device.objects.filter(home=home, code__in=payload.devices))
    missing = set(payload.devices) - {d.code for d in devices}
    if missing:
        # A foreign or unknown device is reported like a bad value: nothing is saved.
        raise ValidationError([{
            "type": "value_error", "loc": ["body", "payload", "devices"],
            "msg": f"not lights of this home: {', '.join(sorted(map(str, missing)))}",
        }])
    scene = actions.do_save_scene(home, payload.name, devices)
    return Status(201, scene_out(scene))


@router.get("/scenes/{code}", response=SceneOut)
def get_scene(request: HttpRequest, code: UUID) -> dict[str, Any]:
    return scene_out(_scoped(get_scene_for_user, request, code, Role.VIEWER))


@router.post("/scenes/{code}/apply", response=BatchOut, summary="Apply a scene")
def apply_scene(request: HttpRequest, code: UUID) -> dict[str, Any]:
    scene = _scoped(get_scene_for_user, request, code, Role.MEMBER)
    return batch_out(actions.do_apply_scene(scene))


@router.delete("/scenes/{code}", response={204: None})
def delete_scene(request: HttpRequest, code: UUID) -> tuple[int, None]:
    actions.do_delete_scene(_scoped(get_scene_for_user, request, code, Role.MEMBER))
    return Status(204, None)
