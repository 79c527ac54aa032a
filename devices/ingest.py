"""Status ingestion: shadow `/update/documents` events into the devices' cached shadow copy.

The IoT rule `smartlight_shadow_events` (DESIGN section 4) sends every documents message,
with the `thing` added, to SQS. AWS documents carry `previous` and `current` (each with state,
metadata and version) and a `timestamp` ("Device Shadow service documents"). SQS standard
queues deliver at least once and out of order, so a document only replaces the cache when it is
newer: a higher version of the same shadow. One exception follows AWS ("Interacting with
shadows", DELETE): a shadow deleted for more than 48 hours and made again starts over at
version 0, so a lower version whose document time is later than the cached document's belongs
to that new shadow and replaces the cache.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from devices.models import THING_NAME_RE, Device

CACHE_FIELDS = ["desired", "reported", "connected", "last_seen", "shadow_version",
                "shadow_updated", "fw", "changed"]
_THING = re.compile(THING_NAME_RE)


class PoisonMessage(ValueError):
    """A message that can never be applied (not a documents event); it is moved aside."""


@dataclass(frozen=True)
class ShadowEvent:
    thing: str
    version: int
    desired: dict[str, Any]
    reported: dict[str, Any]
    # When the device itself last reported (None when this document holds no sign of it).
    seen: datetime | None
    # The document's own time (AWS: seconds since the epoch).
    stamp: datetime | None = None

    def is_newer_than(self, version: int, stamp: datetime | None) -> bool:
        """Whether this event should replace a cache at `version` written at `stamp`."""
        if self.version > version:
            return True
        # A recreated shadow: lower version, but written after the cached document.
        return (self.version < version and self.stamp is not None and stamp is not None
                and self.stamp > stamp)


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return datetime.fromtimestamp(value, tz=UTC)


def _leaf_times(metadata: Any) -> Iterable[int | float]:
    """Every per-leaf `timestamp` in a shadow metadata tree."""
    if isinstance(metadata, Mapping):
        stamp = metadata.get("timestamp")
        if isinstance(stamp, int | float) and not isinstance(stamp, bool):
            yield stamp
        for key, value in metadata.items():
            if key != "timestamp":
                yield from _leaf_times(value)
    elif isinstance(metadata, list):
        for item in metadata:
            yield from _leaf_times(item)


def _last_seen(reported: Mapping[str, Any], metadata: Any, fallback: Any) -> datetime | None:
    """The time of the device's own latest report.

    The LWT writes `reported.connected = false` on the device's behalf (the broker sends it), so
    that leaf does not count as the device being seen; every other reported leaf does.
    """
    reported_meta = metadata.get("reported") if isinstance(metadata, Mapping) else None
    if isinstance(reported_meta, Mapping) and reported_meta:
        meta = dict(reported_meta)
        if reported.get("connected") is False:
            meta.pop("connected", None)
        times = list(_leaf_times(meta))
        return _timestamp(max(times)) if times else None
    # No metadata (a minimal emulator): the document time, unless it is the LWT.
    if reported and reported.get("connected") is not False:
        return _timestamp(fallback)
    return None


def _section(state: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = state.get(name)
    return dict(value) if isinstance(value, Mapping) else {}


def event_from_document(document: Mapping[str, Any], thing: str) -> ShadowEvent:
    """A ShadowEvent from a full shadow document (`state`, `metadata`, `version`)."""
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise PoisonMessage("the document has no integer version")
    state = document.get("state")
    if not isinstance(state, Mapping):
        raise PoisonMessage("the document has no state object")
    reported = _section(state, "reported")
    return ShadowEvent(
        thing=thing,
        version=version,
        desired=_section(state, "desired"),
        reported=reported,
        seen=_last_seen(reported, document.get("metadata"), document.get("timestamp")),
        stamp=_timestamp(document.get("timestamp")),
    )


def parse_message(body: str | bytes) -> ShadowEvent:
    """Parse one SQS message body (a documents message plus `thing`); PoisonMessage if bad."""
    try:
        data = json.loads(body)
    except (TypeError, ValueError) as exc:
        raise PoisonMessage(f"not JSON: {exc}") from exc
    if not isinstance(data, Mapping):
        raise PoisonMessage("not a JSON object")
    thing = data.get("thing")
    if not isinstance(thing, str) or not _THING.match(thing):
        raise PoisonMessage(f"no valid thing name (got {thing!r})")
    current = data.get("current")
    if not isinstance(current, Mapping):
        raise PoisonMessage("no `current` document")
    current = dict(current)
    current.setdefault("timestamp", data.get("timestamp"))
    return event_from_document(current, thing)


def cache_fields(event: ShadowEvent, device: Device) -> dict[str, Any]:
    """The cached-shadow field values a device gets from an event."""
    reported = event.reported
    fw = reported.get("fw")
    return {
        "desired": event.desired,
        "reported": reported,
        "connected": reported.get("connected") is True,
        "last_seen": max(filter(None, [device.last_seen, event.seen]), default=None),
        "shadow_version": event.version,
        "shadow_updated": event.stamp or device.shadow_updated,
        "fw": fw[:32] if isinstance(fw, str) else device.fw,
        "changed": timezone.now(),
    }


def cache_fields_from_shadow(document: Mapping[str, Any], device: Device) -> dict[str, Any]:
    """The cached fields from a live `get_shadow` document (the admin's refresh action)."""
    return cache_fields(event_from_document(document, device.thing_name), device)


@dataclass
class ApplyResult:
    applied: list[str] = field(default_factory=list)  # thing names whose cache changed
    stale: int = 0  # events older than (or as old as) the cache
    unknown: set[str] = field(default_factory=set)  # things with no Device row


def apply_events(events: Iterable[ShadowEvent]) -> ApplyResult:
    """Bring the cached shadow of every named device up to the newest event, in one transaction.

    Of several events for one thing only the highest version matters; rows are locked so two
    consumers cannot interleave an older write after a newer one.
    """
    newest: dict[str, ShadowEvent] = {}
    result = ApplyResult()
    for event in events:
        held = newest.get(event.thing)
        if held is None or event.is_newer_than(held.version, held.stamp):
            if held is not None:
                result.stale += 1
            newest[event.thing] = event
        else:
            result.stale += 1
    if not newest:
        return result
    with transaction.atomic():
        devices = list(
            Device.objects.select_for_update()
            .filter(thing_name__in=list(newest))
            .order_by("pk")
        )
        changed = []
        for device in devices:
            event = newest[device.thing_name]
            if not event.is_newer_than(device.shadow_version, device.shadow_updated):
                result.stale += 1
                continue
            for name, value in cache_fields(event, device).items():
                setattr(device, name, value)
            changed.append(device)
            result.applied.append(device.thing_name)
        if changed:
            Device.objects.bulk_update(changed, CACHE_FIELDS)
    result.unknown = set(newest) - {d.thing_name for d in devices}
    return result
