"""Mirrors to AWS through one outbox registry (docs/architecture.md, "Mirrors to AWS").

A change that must reach AWS (a membership → the `iot_cookie` item; a schedule → its EventBridge
mirror) records an outbox row in the same transaction as the change, and one Celery task,
`smartlight.outbox.push`, pushes it after the commit. Each app registers its mirror here once
(`register()` in its AppConfig.ready): a name, the outbox model and key field, and the function
that makes AWS match the database for one key. So no app imports another app's tasks, and there
is one push task, one flush and one retry policy for every mirror.

The row goes only when the push succeeded and no newer change bumped its `version` meanwhile;
what is left is retried with backoff, by the periodic flush and by the reconcile commands. So a
failing AWS call never loses the change and never breaks the page.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from celery import shared_task
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

log = logging.getLogger(__name__)

AWS_ERRORS = (BotoCoreError, ClientError)
MAX_RETRIES = 8


class OutboxEntry(models.Model):
    """One mirrored thing that must be brought up to date; subclasses add its unique key."""

    version = models.PositiveIntegerField(default=1)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True


@dataclass(frozen=True)
class Mirror:
    """One kind of AWS mirror: its outbox rows and how to push one key."""

    name: str
    model: type[OutboxEntry]
    field: str
    push: Callable[[str], str]  # make AWS match the database for one key; raises AWS errors
    # Immediate attempts when the task runs in-process (no worker to retry it later).
    eager_attempts: int = 1


_MIRRORS: dict[str, Mirror] = {}


def register(mirror: Mirror) -> None:
    """Add a mirror (idempotent: AppConfig.ready may run more than once in tests)."""
    _MIRRORS[mirror.name] = mirror


def mirrors() -> list[Mirror]:
    return [_MIRRORS[name] for name in sorted(_MIRRORS)]


def get(name: str) -> Mirror:
    try:
        return _MIRRORS[name]
    except KeyError:
        raise LookupError(f"no outbox mirror named {name!r} is registered") from None


def backoff(retries: int) -> float:
    """Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And
    Jitter"): up to 5 s, 10 s, 20 s ... capped at 10 minutes."""
    return random.uniform(0, min(600, 5 * 2**retries))


def mark(name: str, keys: Iterable[Any]) -> None:
    """Record inside the caller's transaction that `keys` of mirror `name` are stale; queue one
    push task per key once the transaction commits."""
    mirror = get(name)
    keys = [str(key) for key in keys]
    now = timezone.now()
    for key in keys:
        rows = mirror.model.objects.filter(**{mirror.field: key})
        if not rows.update(version=F("version") + 1, updated=now):
            mirror.model.objects.create(**{mirror.field: key}, created=now, updated=now)

    def hand_over() -> None:
        for key in keys:
            try:
                enqueue(name, key)
            except Exception:  # noqa: BLE001 - a broker outage must not break the request
                log.warning("%s push for %s not queued; the outbox keeps it", name, key,
                            exc_info=True)

    transaction.on_commit(hand_over)


def enqueue(name: str, key: str) -> None:
    push.delay(name, key)


def push_entry(name: str, key: Any) -> str:
    """Push one key of mirror `name` and clear its row unless it changed meanwhile.

    Raises the AWS error (after recording it on the row) so the caller can retry.
    """
    mirror = get(name)
    key = str(key)
    rows = mirror.model.objects.filter(**{mirror.field: key})
    entry = rows.first()
    try:
        outcome = mirror.push(key)
    except AWS_ERRORS as exc:
        rows.update(attempts=F("attempts") + 1, last_error=str(exc)[:1000],
                    updated=timezone.now())
        raise
    if entry is not None:
        # A change committed while we pushed bumped the version: keep the row for its own push.
        rows.filter(version=entry.version).delete()
    return outcome


@shared_task(bind=True, name="smartlight.outbox.push", max_retries=MAX_RETRIES, acks_late=True)
def push(self, name: str, key: str) -> str:
    """Bring one key of mirror `name` up to date; on an AWS error, retry later with backoff.

    In-process (CELERY_TASK_ALWAYS_EAGER) Celery cannot schedule a retry and sleeping would hold
    up the request that committed the change, so after the mirror's `eager_attempts` immediate
    tries the outbox row stays for the flush and reconcile.
    """
    attempts = get(name).eager_attempts if self.request.is_eager else 1
    for attempt in range(1, attempts + 1):
        try:
            return push_entry(name, key)
        except AWS_ERRORS as exc:
            log.warning("%s push for %s failed (attempt %s): %s",
                        name, key, self.request.retries + attempt, exc)
            if attempt < attempts:
                continue
            if self.request.is_eager:
                return "pending"
            raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc
    return "pending"


@shared_task(name="smartlight.outbox.flush")
def flush(name: str | None = None) -> int:
    """Push every row of mirror `name` (of every mirror when None), so a lost task message
    never strands a change. Returns the count still pending. Run periodically (Celery beat)."""
    pending = 0
    for mirror in [get(name)] if name else mirrors():
        for key in list(mirror.model.objects.values_list(mirror.field, flat=True)):
            try:
                push_entry(mirror.name, key)
            except AWS_ERRORS as exc:
                log.warning("%s push for %s failed: %s", mirror.name, key, exc)
        pending += mirror.model.objects.count()
    return pending
