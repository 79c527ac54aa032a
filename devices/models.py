from __future__ import annotations

import uuid
from typing import Any

from django.core.validators import RegexValidator
from django.db import connection, models
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Home
from smartlight import contract
from smartlight.contract import DESIRED_KEYS
from smartlight.outbox import OutboxEntry
from smartlight.text import validate_plain_text

# What a light shows before it has reported anything.
DEFAULT_LOOK: dict[str, Any] = {
    "on": False, "brightness": 128, "color": "#ffffff", "effect": "solid", "speed": 128,
}


def contract_values(state: Any) -> dict[str, Any]:
    """The desired keys of `state` whose values fit the contract (smartlight/contract.py).

    Reported state comes from devices: a broken firmware may report anything, and the portal
    must still draw the light (showing defaults for what makes no sense).
    """
    return contract.contract_values(state)


# \A...\Z, not ^...$: `$` also matches before a trailing newline.
THING_NAME_RE = r"\Asl-[0-9a-f]{12}\Z"
validate_thing_name = RegexValidator(
    THING_NAME_RE, "A thing name is 'sl-' followed by 12 lowercase hex characters."
)


def new_thing_name() -> str:
    return "sl-" + uuid.uuid4().hex[:12]


ROOM_NAME_TAKEN = "This home already has a room of that name."


class Provisioning(models.TextChoices):
    MANUAL = "manual", "manual (certificate made by the platform)"
    FLEET = "fleet", "fleet provisioning by claim"
    JITP = "jitp", "just-in-time provisioning (maker's CA)"
    JITR = "jitr", "just-in-time registration (maker's CA)"


class Room(models.Model):
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    home = models.ForeignKey(Home, models.CASCADE, related_name="rooms")
    name = models.CharField(max_length=100, validators=[validate_plain_text])

    class Meta:
        ordering = ["name"]
        constraints = [
            # "Kitchen" and "kitchen" are one room name (devices/actions.py raises RoomNameTaken).
            models.UniqueConstraint(Lower("name"), "home", name="unique_room_name_per_home",
                                    violation_error_message=ROOM_NAME_TAKEN),
        ]

    def __str__(self) -> str:
        return self.name


class Device(models.Model):
    """A light: one AWS IoT thing, with the platform's cached copy of its shadow."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    home = models.ForeignKey(Home, models.CASCADE, related_name="devices")
    room = models.ForeignKey(
        Room, models.SET_NULL, null=True, blank=True, related_name="devices"
    )
    name = models.CharField(max_length=100, validators=[validate_plain_text])
    thing_name = models.CharField(
        max_length=15, unique=True, default=new_thing_name, validators=[validate_thing_name]
    )
    # Cached shadow sections, kept current by the shadow-events consumer.
    desired = models.JSONField(default=dict, blank=True)
    reported = models.JSONField(default=dict, blank=True)
    connected = models.BooleanField(default=False)
    last_seen = models.DateTimeField(null=True, blank=True)
    shadow_version = models.PositiveBigIntegerField(default=0)
    # The `timestamp` of the cached shadow document: tells a shadow that was deleted and made
    # again (its version restarts at 0, AWS "Interacting with shadows", DELETE) from a stale one.
    shadow_updated = models.DateTimeField(null=True, blank=True)
    fw = models.CharField(max_length=32, blank=True)
    # How the light got its certificate, and which one it is (the private key never reaches us).
    provisioning = models.CharField(max_length=8, choices=Provisioning.choices, blank=True)
    certificate_id = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(default=timezone.now)
    # When the cached state last changed (desired asked, document applied): the dashboard's
    # live feed answers "304 Not Modified" while no light of the home changed.
    changed = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["home", "name"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.thing_name})"

    @property
    def pending(self) -> dict[str, Any]:
        """The desired keys the light does not show yet (what AWS would put in `delta`)."""
        reported = self.reported or {}
        return {
            key: value
            for key, value in (self.desired or {}).items()
            if key in DESIRED_KEYS and reported.get(key) != value
        }

    @property
    def is_pending(self) -> bool:
        return bool(self.pending)

    @property
    def look(self) -> dict[str, Any]:
        """What the controls show: the desired value where one is set, else the reported one."""
        state = dict(DEFAULT_LOOK)
        state.update(contract_values(self.reported))
        desired = contract_values(self.desired)
        if "color" in desired and "color_temp_k" not in desired:
            state.pop("color_temp_k", None)  # a colour asked since the white: it wins
        state.update(desired)
        return state

    @property
    def shown(self) -> dict[str, Any]:
        """What the strip shows right now, as far as the platform knows (reported state)."""
        state = dict(DEFAULT_LOOK)
        state.update(contract_values(self.reported))
        return state

    @property
    def effects(self) -> list[str]:
        return list(contract.effects_of(self.reported))

    @property
    def led_count(self) -> int:
        count = (self.reported or {}).get("led_count")
        return count if isinstance(count, int) and count > 0 else 0


class Scene(models.Model):
    """A saved look: the desired state of each chosen light."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    home = models.ForeignKey(Home, models.CASCADE, related_name="scenes")
    name = models.CharField(max_length=100, validators=[validate_plain_text])
    # {thing_name: {desired keys}}
    states = models.JSONField(default=dict)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["home", "name"], name="unique_scene_name_per_home"),
        ]

    def __str__(self) -> str:
        return self.name


SERIAL_RE = r"\A[0-9a-f]{12}\Z"


class Serial(models.Model):
    """A light the platform made (provision_batch) and that a household can claim with its code.

    Only a keyed hash of the claim code is kept: the code itself exists on the printed label
    and in the factory's CSV. `device` is set while a home owns the light.
    """

    serial = models.CharField(max_length=12, unique=True,
                              validators=[RegexValidator(SERIAL_RE, "12 lowercase hex characters")])
    method = models.CharField(max_length=8, choices=Provisioning.choices)
    code_hash = models.CharField(max_length=64, unique=True)
    code_expires = models.DateTimeField()
    batch = models.CharField(max_length=40, blank=True)
    # Manual batches make the certificate at the factory; fleet lights get theirs on first boot.
    certificate_id = models.CharField(max_length=64, blank=True)
    made = models.DateTimeField(default=timezone.now)
    claimed = models.DateTimeField(null=True, blank=True)
    device = models.OneToOneField(Device, models.SET_NULL, null=True, blank=True,
                                  related_name="serial")

    class Meta:
        ordering = ["-made", "serial"]

    def __str__(self) -> str:
        return self.serial

    @property
    def thing_name(self) -> str:
        return f"sl-{self.serial}"


class RetiredThing(OutboxEntry):
    """A removed light whose AWS side (certificate, thing, shadow) must still be taken down.

    Written in the transaction that deletes the device row; the push detaches and deactivates
    its certificates, deletes the shadow and the thing, and re-arms its serial. Every step is
    safe to repeat, so a failed push is simply retried.
    """

    thing_name = models.CharField(max_length=15, unique=True)
    serial = models.CharField(max_length=12, blank=True)

    def __str__(self) -> str:
        return self.thing_name


def update_rows(devices: list[Device], names: list[str]) -> tuple[str, list[list[Any]]]:
    """One UPDATE of the fields `names` by primary key, and each device's parameters (adapted
    by the fields themselves, as save() would), for `cursor.executemany`.

    psycopg pipelines the statements into one round trip. Django's bulk_update builds a CASE
    per field and row, whose compilation costs more than the writes themselves; save() costs a
    round trip per row.
    """
    meta = Device._meta
    fields = [meta.get_field(name) for name in names]
    quote = connection.ops.quote_name
    # Only the model's own table and column names go into the text; every value is a parameter.
    sql = (f"UPDATE {quote(meta.db_table)} SET "  # noqa: S608
           + ", ".join(f"{quote(f.column)} = %s" for f in fields)
           + f" WHERE {quote(meta.pk.column)} = %s")
    rows = [
        [f.get_db_prep_save(getattr(device, f.attname), connection) for f in fields] + [device.pk]
        for device in devices
    ]
    return sql, rows
