from __future__ import annotations

import uuid

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from accounts.models import Home

THING_NAME_RE = r"^sl-[0-9a-f]{12}$"
validate_thing_name = RegexValidator(
    THING_NAME_RE, "A thing name is 'sl-' followed by 12 lowercase hex characters."
)


def new_thing_name() -> str:
    return "sl-" + uuid.uuid4().hex[:12]


class Room(models.Model):
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    home = models.ForeignKey(Home, models.CASCADE, related_name="rooms")
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["home", "name"], name="unique_room_name_per_home"),
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
    name = models.CharField(max_length=100)
    thing_name = models.CharField(
        max_length=15, unique=True, default=new_thing_name, validators=[validate_thing_name]
    )
    # Cached shadow sections, kept current by the shadow-events consumer.
    desired = models.JSONField(default=dict, blank=True)
    reported = models.JSONField(default=dict, blank=True)
    connected = models.BooleanField(default=False)
    last_seen = models.DateTimeField(null=True, blank=True)
    shadow_version = models.PositiveBigIntegerField(default=0)
    fw = models.CharField(max_length=32, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["home", "name"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.thing_name})"


class Scene(models.Model):
    """A saved look: the desired state of each chosen light."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    home = models.ForeignKey(Home, models.CASCADE, related_name="scenes")
    name = models.CharField(max_length=100)
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
