from __future__ import annotations

import datetime as dt
import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from accounts.models import Home
from devices.models import Device, Room, Scene
from schedules import timing
from smartlight.outbox import OutboxEntry
from smartlight.text import validate_plain_text


class Trigger(models.TextChoices):
    ONCE = timing.ONCE, "Once"
    WEEKLY = timing.WEEKLY, "Weekly"
    CRON = timing.CRON, "Cron expression"
    SUNRISE = timing.SUNRISE, "Sunrise"
    SUNSET = timing.SUNSET, "Sunset"


class Schedule(models.Model):
    """Sets lights, rooms or a scene to a state at chosen times in the home's time zone."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    home = models.ForeignKey(Home, models.CASCADE, related_name="schedules")
    name = models.CharField(max_length=100, validators=[validate_plain_text])

    # Targets: lights and rooms, or a scene (which names its own lights).
    devices = models.ManyToManyField(Device, blank=True, related_name="schedules")
    rooms = models.ManyToManyField(Room, blank=True, related_name="schedules")
    scene = models.ForeignKey(
        Scene, models.SET_NULL, null=True, blank=True, related_name="schedules"
    )
    # The action when no scene is chosen: desired keys of the device contract
    # (docs/device-contract.md).
    desired = models.JSONField(default=dict, blank=True)

    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.WEEKLY)
    run_date = models.DateField(null=True, blank=True)  # once
    run_time = models.TimeField(null=True, blank=True)  # once, weekly
    weekdays = models.JSONField(default=list, blank=True)  # weekly: 0 = Monday .. 6 = Sunday
    # cron, in local time
    cron = models.CharField(max_length=100, validators=[validate_plain_text], blank=True)
    offset_minutes = models.IntegerField(  # sunrise / sunset
        default=0, validators=[MinValueValidator(-720), MaxValueValidator(720)]
    )

    enabled = models.BooleanField(default=True)
    next_run = models.DateTimeField(null=True, blank=True, db_index=True)
    last_run = models.DateTimeField(null=True, blank=True)
    last_result = models.JSONField(default=dict, blank=True)

    # The run the platform last pointed the EventBridge mirror at (the Lambda re-points it after
    # each run; long past, the periodic repair checks that it did).
    mirror_points_at = models.DateTimeField(null=True, blank=True, db_index=True)
    mirror_expression = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["home", "name"])]

    def __str__(self) -> str:
        return self.name

    def as_trigger(self) -> timing.Trigger:
        home = self.home
        return timing.Trigger(
            kind=self.trigger,
            tz=home.timezone,
            date=self.run_date,
            time=self.run_time,
            weekdays=tuple(self.weekdays or ()),
            cron=self.cron,
            offset_minutes=self.offset_minutes,
            latitude=home.latitude,
            longitude=home.longitude,
        )

    @property
    def description(self) -> str:
        return timing.describe(self.as_trigger())

    def compute_next_run(self, after: dt.datetime) -> dt.datetime | None:
        return timing.next_run(self.as_trigger(), after)

    def next_runs(self, after: dt.datetime, count: int = 5) -> list[dt.datetime]:
        return timing.next_runs(self.as_trigger(), after, count)

    def things(self) -> list[str]:
        """The thing names this schedule writes to, sorted (rooms expanded at call time)."""
        if self.scene_id:
            return sorted(self.scene.states.keys())
        # Works from prefetched devices and rooms__devices when the caller loaded them.
        names = {d.thing_name for d in self.devices.all()}
        for room in self.rooms.all():
            names.update(d.thing_name for d in room.devices.all())
        return sorted(names)

    def lambda_input(self) -> dict:
        """The schedule Lambda's input (docs/device-contract.md, "Schedule Lambda input").

        A scene sets a different state per light, which one `desired` cannot say, so scene
        schedules add `states` (thing -> desired) and send an empty `desired`.
        """
        payload: dict = {"schedule": str(self.code), "things": self.things()}
        if self.scene_id:
            payload["desired"] = {}
            payload["states"] = {t: dict(s) for t, s in sorted(self.scene.states.items())}
        else:
            payload["desired"] = dict(self.desired)
        return payload

    @property
    def is_synced(self) -> bool:
        return not MirrorOutbox.objects.filter(code=self.code).exists()


class MirrorOutbox(OutboxEntry):
    """A schedule whose EventBridge mirror must be brought up to date.

    Written in the same transaction as the change (also for deletes, when the schedule row is
    gone) and removed by the push task only if `version` did not move meanwhile.
    """

    code = models.UUIDField(unique=True)

    def __str__(self) -> str:
        return f"mirror {self.code} v{self.version}"
