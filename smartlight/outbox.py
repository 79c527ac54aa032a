"""Mirrors to AWS through an outbox (docs/architecture.md, "Mirrors to AWS").

A change that must reach AWS (a membership → the `iot_cookie` item; a schedule → its EventBridge
rule) records an outbox row in the same transaction as the change, and a Celery task pushes it
after the commit. The row goes only when the push succeeded and no newer change bumped its
`version` meanwhile; what is left is retried with backoff, by the periodic flush and by the
reconcile commands. So a failing AWS call never loses the change and never breaks the page.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
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


def backoff(retries: int) -> float:
    """Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And
    Jitter"): up to 5 s, 10 s, 20 s ... capped at 10 minutes."""
    return random.uniform(0, min(600, 5 * 2**retries))


def mark(model: type[OutboxEntry], keys: Iterable[Any], field: str,
         enqueue: Callable[[Any], None]) -> None:
    """Record inside the caller's transaction that `keys` are stale; `enqueue(key)` each one
    once the transaction commits."""
    keys = list(keys)
    now = timezone.now()
    for key in keys:
        rows = model.objects.filter(**{field: key})
        if not rows.update(version=F("version") + 1, updated=now):
            model.objects.create(**{field: key}, created=now, updated=now)

    def hand_over() -> None:
        for key in keys:
            try:
                enqueue(key)
            except Exception:  # noqa: BLE001 - a broker outage must not break the request
                log.warning("%s push for %s not queued; the outbox keeps it",
                            model.__name__, key, exc_info=True)

    transaction.on_commit(hand_over)


def push_entry(model: type[OutboxEntry], field: str, key: Any,
               push: Callable[[], str]) -> str:
    """Run `push()` for one key and clear its row unless it changed meanwhile.

    Raises the AWS error (after recording it on the row) so the caller can retry.
    """
    rows = model.objects.filter(**{field: key})
    entry = rows.first()
    try:
        outcome = push()
    except AWS_ERRORS as exc:
        rows.update(attempts=F("attempts") + 1, last_error=str(exc)[:1000],
                    updated=timezone.now())
        raise
    if entry is not None:
        # A change committed while we pushed bumped the version: keep the row for its own push.
        rows.filter(version=entry.version).delete()
    return outcome


def run_push_task(task: Any, key: Any, push_once: Callable[[], str], what: str,
                  eager_attempts: int = 1) -> str:
    """The body of a bound push task: on an AWS error, retry later with backoff on a worker.

    In-process (CELERY_TASK_ALWAYS_EAGER) Celery cannot schedule a retry and sleeping would hold
    up the request that committed the change, so after `eager_attempts` immediate tries the
    outbox row stays for the flush and reconcile.
    """
    attempts = eager_attempts if task.request.is_eager else 1
    for attempt in range(1, attempts + 1):
        try:
            return push_once()
        except AWS_ERRORS as exc:
            log.warning("%s push for %s failed (attempt %s): %s",
                        what, key, task.request.retries + attempt, exc)
            if attempt < attempts:
                continue
            if task.request.is_eager:
                return "pending"
            raise task.retry(exc=exc, countdown=backoff(task.request.retries)) from exc
    return "pending"


def flush(model: type[OutboxEntry], field: str, push_once: Callable[[Any], str],
          what: str) -> int:
    """Push every row (a lost task message never strands a change); the count still pending."""
    for key in list(model.objects.values_list(field, flat=True)):
        try:
            push_once(key)
        except AWS_ERRORS as exc:
            log.warning("%s push for %s failed: %s", what, key, exc)
    return model.objects.count()
