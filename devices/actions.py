"""Changes to lights, rooms and scenes. Views and the API call these after their access check.

Light changes go to AWS first (the shadow is the source of truth: docs/architecture.md, "Control");
the database keeps a cached copy of what was asked so the portal shows "pending" at once,
and the shadow-events consumer later replaces it with the shadow's own document.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts import iot_cookie
from accounts.models import Home
from devices import claims, hooks, labels, provisioning, shadow
from devices.models import (
    ROOM_NAME_TAKEN,
    Device,
    Provisioning,
    RetiredThing,
    Room,
    Scene,
    Serial,
    new_thing_name,
    update_rows,
)
from smartlight import contract, outbox

log = logging.getLogger(__name__)

UNCHANGED = object()

# What a scene remembers of a light: its look, not how fast it fades in.
SCENE_KEYS = ("on", "brightness", "color", "color_temp_k", "effect", "speed")
# A scene or a room writes its lights' shadows this many at a time: each write is one round
# trip to IoT Core (about 17 ms), so 50 lights one after another would take most of a second.
# The iot-data client keeps as many connections (smartlight.aws.MAX_POOL_CONNECTIONS): with
# fewer, the extra connections are dropped whenever the writers go idle, and every batch
# connects again.
SHADOW_WRITERS = 16


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
    _cache_desired(device, clean)
    # One UPDATE of this row only: the consumer may be writing the same row from a shadow
    # document; its newer version wins the next time it runs.
    device.save(update_fields=["desired", "changed"])
    return clean


def _cache_desired(device: Device, clean: Mapping[str, Any]) -> None:
    """Merge a written desired state into the cached copy (not saved)."""
    merged = {**(device.desired or {}), **contract.shadow_desired(clean)}
    device.desired = {key: value for key, value in merged.items() if value is not None}
    device.changed = timezone.now()


_writers_lock = threading.Lock()
_writers: tuple[tuple[int, int], ThreadPoolExecutor] | None = None  # ((pid, size), pool)


def _writer_pool() -> ThreadPoolExecutor:
    """The process's SHADOW_WRITERS threads, started on first use and kept for every batch
    (starting them per click cost a few ms each time). A forked process (gunicorn or Celery
    workers) starts its own: threads do not survive a fork."""
    global _writers
    with _writers_lock:
        key = (os.getpid(), SHADOW_WRITERS)
        if _writers is None or _writers[0] != key:
            if _writers is not None and _writers[0][0] == key[0]:
                _writers[1].shutdown(wait=False)  # the number changed: finish, then go
            _writers = (key, ThreadPoolExecutor(max_workers=SHADOW_WRITERS,
                                                thread_name_prefix="shadow-writer"))
        return _writers[1]


def _set_desired_many(changes_of: list[tuple[Device, Mapping[str, Any]]]) -> BatchResult:
    """Several lights' changes at once: the shadow writes run in parallel (one boto3 client,
    thread-safe, whose connection pool holds SHADOW_WRITERS connections; the threads touch no
    database), then the cached rows in one pipelined statement. A light that fails, for any
    reason, is reported and does not stop the others."""

    def write(item: tuple[Device, Mapping[str, Any]]) -> tuple[Device, Any, str | None]:
        device, changes = item
        try:
            clean = contract.validate_desired(changes, effects=device.effects)
            shadow.update_desired(device.thing_name, clean, device.reported)
        except (contract.InvalidState, shadow.ShadowError) as exc:
            return device, None, _reason(exc)
        except Exception:
            # Not an outcome the shadow module knows: the others' writes still count.
            log.exception("shadow write of %s failed", device.thing_name)
            return device, None, shadow.ShadowError.reason
        return device, clean, None

    result = BatchResult()
    if not changes_of:
        return result
    for device, clean, error in _writer_pool().map(write, changes_of):
        if error is not None:
            result.failed[device.name] = error
        else:
            _cache_desired(device, clean)
            result.changed.append(device)
    if result.changed:
        sql, rows = update_rows(result.changed, ["desired", "changed"])
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, rows)
    return result


def do_set_many(devices: Iterable[Device], changes: Mapping[str, Any]) -> BatchResult:
    """The same change for several lights (a room); one failing light does not stop the rest.

    The change is validated once against the contract before any light is written, so a bad
    request changes nothing. An effect is then checked per light (their effects differ).
    """
    devices = list(devices)
    # Every key's form, an effect's name included; an empty request fails here too.
    contract.validate_desired(changes)
    return _set_desired_many([(device, changes) for device in devices])


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
        # Overwriting a scene changes what the schedules that apply it set.
        hooks.targets_changed(scenes=[scene])
    return scene


class SceneNameTaken(contract.InvalidState):
    status = 409


def do_update_scene(scene: Scene, name: str, states: Mapping[str, Mapping[str, Any]]) -> Scene:
    """Rename a scene and replace the looks of its lights (each checked by the contract; only
    the scene's own lights may stay in it). InvalidState lists every bad look; nothing saved."""
    errors = []
    clean = {}
    for thing, state in states.items():
        if thing not in scene.states:
            errors.append(contract.FieldError(thing, "is not a light of this scene"))
            continue
        try:
            clean[thing] = contract.validate_desired(
                {k: v for k, v in state.items() if k in SCENE_KEYS})
        except contract.InvalidState as exc:
            errors.extend(contract.FieldError(f"{thing}.{e.field}", e.reason)
                          for e in exc.errors)
    if not clean and not errors:
        errors.append(contract.FieldError("states", "keep at least one light in the scene"))
    if errors:
        raise contract.InvalidState(errors)
    scene.name, scene.states = name, clean
    try:
        with transaction.atomic():
            scene.save(update_fields=["name", "states"])
            # What the schedules that apply it set has changed.
            hooks.targets_changed(scenes=[scene])
    except IntegrityError as exc:
        raise SceneNameTaken([contract.FieldError(
            "name", f"this home already has a scene called “{name}”")]) from exc
    return scene


def do_apply_scene(scene: Scene) -> BatchResult:
    """Write each saved light's look to its shadow; lights gone from the home are skipped."""
    devices = Device.objects.filter(home=scene.home, thing_name__in=list(scene.states))
    changes_of = []
    for device in devices:
        state = scene.states.get(device.thing_name) or {}
        if state.get("effect") not in (None, *device.effects):
            # The light no longer offers that effect (firmware changed): keep the rest.
            state = {k: v for k, v in state.items() if k != "effect"}
        changes_of.append((device, state))
    return _set_desired_many(changes_of)


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
# every change to which lights a schedule reaches tells them through devices.hooks, in the same
# transaction.


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
    """Remove a light from its home (see do_remove_device)."""
    do_remove_device(device)


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


# --- provisioning -----------------------------------------------------------------------------


def do_provision_device(home: Home, name: str, *, room_name: str = "", led_count: int,
                        max_ma: int, out: Path) -> Device:
    """Give the light `name` of `home` a thing and a fresh certificate; write its bundle.

    All or nothing: on any failure the new certificate, a new thing, the bundle and the
    database changes are taken back and ProvisioningError (or the AWS error) is raised.
    A light that already had certificates keeps none of them active.
    """
    existed = out.exists()
    provisioning.check_out_dir(out)
    with provisioning.all_or_nothing() as undo:
        if settings.AWS_MODE == "local":
            provisioning.ensure_thing_type()
        provisioning.ensure_device_policy()
        ca_pem = provisioning.server_ca_pem()
        with transaction.atomic():
            device = Device.objects.filter(home=home, name=name).first()
            created = device is None
            if device is None:
                device = Device(home=home, name=name, thing_name=new_thing_name())
            provisioning.create_thing(device.thing_name, {"home": str(home.code)}, undo)
            old = provisioning.thing_certificates(device.thing_name)
            creds = provisioning.issue_device_certificate(device.thing_name, undo)
            if room_name:
                device.room, _ = Room.objects.get_or_create(home=home, name=room_name)
            device.provisioning = Provisioning.MANUAL
            device.certificate_id = creds.certificate_id
            device.save()
            undo.add(f"bundle {out}", lambda: provisioning.remove_dir(out, existed))
            provisioning.write_bundle(
                out, provisioning.base_config(device.thing_name, led_count, max_ma),
                {provisioning.CERT_FILE: creds.certificate_pem,
                 provisioning.KEY_FILE: creds.private_key,
                 provisioning.CA_FILE: ca_pem},
            )
            for arn in old:
                provisioning.deactivate_certificate(device.thing_name, arn)
            if created:
                iot_cookie.mark_home(home)
            # A new light joins its room's schedules; an existing one may have changed room.
            hooks.targets_changed(devices=[device])
    return device


def _new_serial(taken: set[str]) -> str:
    while True:
        serial = secrets.token_hex(6)
        if serial not in taken:
            taken.add(serial)
            return serial


def do_make_batch(count: int, method: str, out: Path, *, expires_days: int, led_count: int,
                  max_ma: int, portal: str,
                  progress: Callable[[int, int], None] | None = None) -> list[labels.Label]:
    """Make `count` unclaimed lights: serials, claim codes, AWS identity, bundles, labels.

    `fleet` lights share one claim certificate (the batch's) and get their own certificate on
    first boot; `manual` lights get their thing and certificate now. Every serial goes into
    SERIALS_TABLE for the pre-provisioning hook. All or nothing, like do_provision_device.
    """
    existed = out.exists()
    provisioning.check_out_dir(out)
    made_at = timezone.now()
    expires = made_at + timedelta(days=expires_days)
    batch = made_at.strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)
    made: list[labels.Label] = []
    with provisioning.all_or_nothing() as undo:
        if settings.AWS_MODE == "local":
            provisioning.ensure_thing_type()
            provisioning.ensure_serials_table()
        provisioning.ensure_device_policy()
        files: dict[str, str] = {provisioning.CA_FILE: provisioning.server_ca_pem()}
        with transaction.atomic():
            if method == Provisioning.FLEET:
                provisioning.ensure_claim_policy()
                claim = provisioning.issue_claim_certificate(undo)
                files[provisioning.CLAIM_CERT_FILE] = claim.certificate_pem
                files[provisioning.CLAIM_KEY_FILE] = claim.private_key
            undo.add(f"folder {out}", lambda: provisioning.remove_dir(out, existed))
            out.mkdir(parents=True, exist_ok=True)
            taken = set(Serial.objects.values_list("serial", flat=True))
            rows = []
            for index in range(count):
                serial = _new_serial(taken)
                thing = f"sl-{serial}"
                code = claims.new_code()
                light_files = dict(files)
                certificate_id = ""
                if method == Provisioning.MANUAL:
                    provisioning.create_thing(thing, {"serial": serial}, undo)
                    creds = provisioning.issue_device_certificate(thing, undo)
                    certificate_id = creds.certificate_id
                    light_files[provisioning.CERT_FILE] = creds.certificate_pem
                    light_files[provisioning.KEY_FILE] = creds.private_key
                provisioning.set_serial_status(
                    serial, "made" if method == Provisioning.FLEET else "provisioned", thing,
                    made_at=made_at.isoformat())
                undo.add(f"serial {serial}", lambda s=serial: provisioning.delete_serial(s))
                ap_password = "".join(secrets.choice(claims.ALPHABET.lower()) for _ in range(12))
                config = {**provisioning.base_config(thing, led_count, max_ma),
                          "serial": serial, "claim_code": code, "ap_password": ap_password}
                if method == Provisioning.FLEET:
                    config["template"] = settings.FLEET_TEMPLATE_NAME
                provisioning.write_bundle(out / serial, config, light_files)
                rows.append(Serial(serial=serial, method=method, code_hash=claims.code_hash(code),
                                   code_expires=expires, batch=batch,
                                   certificate_id=certificate_id, made=made_at))
                made.append(labels.Label(
                    serial=serial, thing=thing, method=method, claim_code=code,
                    claim_url=claims.claim_url(code, portal), ap_password=ap_password,
                    code_expires=expires.isoformat(timespec="seconds"),
                ))
                if progress is not None:
                    progress(index + 1, count)
            Serial.objects.bulk_create(rows)
            labels.write_csv(out / "lights.csv", made)
            labels.write_sheet(out / "labels.pdf", made)
    return made


# --- claiming and removing --------------------------------------------------------------------
class ClaimError(Exception):
    """A claim that cannot be made; the message is for the person claiming."""


class InvalidClaimCode(ClaimError):
    """Wrong, used or expired: one message for all three, so a guess learns nothing."""

    def __init__(self) -> None:
        super().__init__("This code is not valid. Check it against the label on the light; "
                         "a code works once, and not after it expires.")


class ClaimPending(ClaimError):
    def __init__(self) -> None:
        super().__init__("This light is still being removed from its last home; "
                         "try again in a minute.")


def do_claim_light(home: Home, code_text: str, *, name: str = "",
                   room: Room | None = None) -> Device:
    """Add the light whose claim code is `code_text` to `home` (the caller checked the role).

    The code is used up in the same transaction that creates the device row; the members'
    iot_cookie items are marked stale and the light's AWS record is brought up to date after
    the commit. Raises InvalidClaimCode (nothing changed) or ClaimPending.
    """
    code = claims.normalize(code_text)
    if code is None:
        raise InvalidClaimCode()
    with transaction.atomic():
        serial = (Serial.objects.select_for_update()
                  .filter(code_hash=claims.code_hash(code)).first())
        if (serial is None or serial.device_id is not None
                or serial.code_expires <= timezone.now()
                or Device.objects.filter(thing_name=serial.thing_name).exists()):
            raise InvalidClaimCode()
        if RetiredThing.objects.filter(thing_name=serial.thing_name).exists():
            raise ClaimPending()
        device = Device.objects.create(
            home=home, room=room, name=name or "New light", thing_name=serial.thing_name,
            provisioning=serial.method, certificate_id=serial.certificate_id,
        )
        serial.device = device
        serial.claimed = timezone.now()
        serial.save(update_fields=["device", "claimed"])
        iot_cookie.mark_home(home)
        # Claimed into a room: that room's schedules now set it too.
        hooks.targets_changed(devices=[device])
        transaction.on_commit(lambda: _after_claim(device))
    return device


def _after_claim(device: Device) -> None:
    """Best effort, after the commit: the thing learns its home, the row its certificate and
    (if the light is already online) its current shadow. The light works without any of it."""
    try:
        principals = provisioning.thing_certificates(device.thing_name)
        if principals:
            provisioning.create_thing(device.thing_name, {"home": str(device.home.code)},
                                      provisioning.Undo())
            if not device.certificate_id:
                device.certificate_id = provisioning.certificate_id_of(principals[0])
                device.save(update_fields=["certificate_id"])
    except provisioning.AWS_ERRORS as exc:
        log.warning("claim of %s: AWS record not updated: %s", device.thing_name, exc)
    # Not online yet: the shadow-events consumer records it when it connects.
    with contextlib.suppress(shadow.ShadowError):
        do_refresh_from_shadow(device)


def do_remove_device(device: Device) -> None:
    """Remove a light: the row goes now; its certificate, shadow and thing go after the commit.

    The AWS side is recorded in the RetiredThing outbox in the same transaction and pushed
    once it commits (retried until it succeeds). A light the platform made gets its serial
    back, so after a factory reset it can provision itself and be claimed again.
    """
    with transaction.atomic():
        home = device.home
        # Told before the delete: afterwards the schedules no longer name the light.
        hooks.targets_changed(devices=[device])
        serial = Serial.objects.filter(device=device).first()
        if serial is not None:
            # Re-armed: the label's code works again for whoever claims the light next.
            serial.device = None
            serial.claimed = None
            serial.code_expires = max(serial.code_expires, timezone.now()
                                      + timedelta(days=settings.CLAIM_CODE_TTL_DAYS))
            serial.save(update_fields=["device", "claimed", "code_expires"])
        retire_things([device.thing_name], serial=serial.serial if serial else "")
        device.delete()
        iot_cookie.mark_home(home)


RETIRED_MIRROR = "retired_thing"


def register_mirror() -> None:
    """Register the take-down of removed things with the one outbox (DevicesConfig.ready)."""
    outbox.register(outbox.Mirror(RETIRED_MIRROR, RetiredThing, "thing_name",
                                  lambda thing: push_retired(thing)))


def push_retired(thing_name: str) -> str:
    """Take the thing down in AWS (safe to repeat) and re-arm its serial for the hook."""
    entry = RetiredThing.objects.filter(thing_name=thing_name).first()
    provisioning.retire_thing(thing_name)
    if entry is not None and entry.serial:
        provisioning.set_serial_status(entry.serial, "made", thing_name)
    return "retired"


def retire_things(thing_names: list[str], serial: str = "") -> None:
    """Record (inside the caller's transaction) that these things' AWS side must go."""
    for thing in thing_names:
        RetiredThing.objects.update_or_create(thing_name=thing, defaults={"serial": serial})
    outbox.mark(RETIRED_MIRROR, thing_names)


def do_revoke_certificate(device: Device) -> list[str]:
    """Operators: revoke the light's certificates at once (it is refused at CONNECT)."""
    return provisioning.revoke_certificates(device.thing_name)
