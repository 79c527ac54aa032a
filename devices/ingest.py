"""Status ingestion: shadow `/update/documents` events into the devices' cached shadow copy.

The IoT rule `smartlight_shadow_events` (docs/device-contract.md) sends every documents message,
with the `thing` added, to SQS. AWS documents carry `previous` and `current` (each with state,
metadata and version) and a `timestamp` ("Device Shadow service documents"). SQS standard
queues deliver at least once and out of order, so a document only replaces the cache when it is
newer: a higher version of the same shadow. One exception follows AWS ("Interacting with
shadows", DELETE): a shadow deleted for more than 48 hours and made again starts over at
version 0, so a lower version whose document time is later than the cached document's belongs
to that new shadow and replaces the cache.

One light cannot poison the others: what a device reports is cleaned to the light-state contract
before it is stored (smartlight/contract.py: no control characters or NUL, bounded strings,
lists and objects), and a message the database still refuses is rolled back alone in its own
savepoint and goes to the dead-letter queue while the rest of its batch applies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from devices.models import THING_NAME_RE, Device, update_rows
from smartlight import contract

CACHE_FIELDS = ["desired", "reported", "connected", "last_seen", "shadow_version",
                "shadow_updated", "fw", "changed"]
_THING = re.compile(THING_NAME_RE)
# A shadow version is a 64-bit signed number in AWS; the cache's column holds no more.
MAX_VERSION = 2**63 - 1


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
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):  # beyond the year 9999
        return None


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
    """One state section, cleaned to the contract (a device may write anything into it)."""
    return contract.sanitize_state(state.get(name))


def event_from_document(document: Mapping[str, Any], thing: str) -> ShadowEvent:
    """A ShadowEvent from a full shadow document (`state`, `metadata`, `version`)."""
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or not 0 <= version <= MAX_VERSION:
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
    # Events the database refused (each rolled back alone), with the reason.
    failed: list[tuple[ShadowEvent, str]] = field(default_factory=list)


# Errors that say the database itself is unwell, not that one message is bad: the whole batch
# is left to be redelivered instead of being moved aside message by message.
_UNWELL = (OperationalError, InterfaceError)


class _Refused(Exception):
    """The database refused the batch's one UPDATE; the batch is redone row by row."""


def apply_events(events: Iterable[ShadowEvent]) -> ApplyResult:
    """Bring the cached shadow of every named device up to the newest event.

    Of several events for one thing only the highest version matters; rows are locked so two
    consumers cannot interleave an older write after a newer one. A write the database refuses
    is rolled back alone (its own savepoint) and listed in `failed`; the others are applied.
    """
    newest: dict[str, ShadowEvent] = {}
    stale = 0
    for event in events:
        held = newest.get(event.thing)
        if held is None or event.is_newer_than(held.version, held.stamp):
            if held is not None:
                stale += 1
            newest[event.thing] = event
        else:
            stale += 1
    if not newest:
        return ApplyResult(stale=stale)
    # The usual case costs one transaction with one pipelined UPDATE per row; only a batch the
    # database refuses is done again with a savepoint per row.
    try:
        return _apply(newest, stale, one_by_one=False)
    except _Refused:
        return _apply(newest, stale, one_by_one=True)


def _apply(newest: dict[str, ShadowEvent], stale: int, *, one_by_one: bool) -> ApplyResult:
    result = ApplyResult(stale=stale)
    with transaction.atomic():
        devices = list(
            Device.objects.select_for_update()
            .filter(thing_name__in=list(newest))
            .order_by("pk")
        )
        changed: list[tuple[Device, ShadowEvent]] = []
        for device in devices:
            event = newest[device.thing_name]
            if not event.is_newer_than(device.shadow_version, device.shadow_updated):
                result.stale += 1
                continue
            for name, value in cache_fields(event, device).items():
                setattr(device, name, value)
            changed.append((device, event))
        sql, rows = update_rows([device for device, _ in changed], CACHE_FIELDS)
        if changed and not one_by_one:
            try:
                with connection.cursor() as cursor:
                    # One UPDATE per row, sent with executemany (devices.models.update_rows):
                    # bulk_update cost most of the consumer's time.
                    cursor.executemany(sql, rows)
            except _UNWELL:
                raise
            except (DatabaseError, ValueError, OverflowError) as exc:
                raise _Refused from exc  # leaves the atomic block: all of it rolled back
            result.applied.extend(device.thing_name for device, _ in changed)
        for (device, event), row in zip(changed if one_by_one else [], rows, strict=False):
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(sql, row)
            except _UNWELL:
                raise
            except (DatabaseError, ValueError, OverflowError) as exc:
                result.failed.append((event, f"{type(exc).__name__}: {exc}"[:500]))
            else:
                result.applied.append(device.thing_name)
    result.unknown = set(newest) - {d.thing_name for d in devices}
    return result
