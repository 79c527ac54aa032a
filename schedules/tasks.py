"""Celery tasks that push schedules to EventBridge. Each is safe to run twice."""

from __future__ import annotations

import logging
import random

from botocore.exceptions import BotoCoreError, ClientError
from celery import shared_task
from django.db.models import F
from django.utils import timezone

from schedules import mirror
from schedules.models import MirrorOutbox, Schedule

log = logging.getLogger(__name__)

MAX_RETRIES = 8
# Immediate attempts when the task runs in-process (no worker to retry it later).
EAGER_ATTEMPTS = 3


def backoff(retries: int) -> float:
    """Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And
    Jitter"): up to 5 s, 10 s, 20 s ... capped at 10 minutes."""
    return random.uniform(0, min(600, 5 * 2**retries))


def push_outbox_entry(code: str) -> str:
    """Push one schedule's mirror and clear its outbox row unless it changed meanwhile.

    Raises the AWS error (after recording it on the row) so the caller can retry.
    """
    entry = MirrorOutbox.objects.filter(code=code).first()
    version = entry.version if entry else None
    try:
        outcome = mirror.push(code)
    except (BotoCoreError, ClientError) as exc:
        MirrorOutbox.objects.filter(code=code).update(
            attempts=F("attempts") + 1, last_error=str(exc)[:1000], updated=timezone.now()
        )
        raise
    if version is not None:
        # A change committed while we pushed bumped the version: keep the row for its own push.
        MirrorOutbox.objects.filter(code=code, version=version).delete()
    warning = mirror.quota_status()
    if warning:
        log.warning(warning)
    return outcome


@shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True)
def push_schedule(self, code: str) -> str:
    """Bring the EventBridge mirror of schedule `code` up to date (create, update or delete)."""
    attempts = EAGER_ATTEMPTS if self.request.is_eager else 1
    for attempt in range(1, attempts + 1):
        try:
            return push_outbox_entry(code)
        except (BotoCoreError, ClientError) as exc:
            log.warning(
                "mirror push for %s failed (attempt %s): %s",
                code,
                self.request.retries + attempt,
                exc,
            )
            if attempt < attempts:
                continue
            if self.request.is_eager:
                # In-process (tests, CELERY_TASK_ALWAYS_EAGER) Celery cannot schedule a retry
                # and sleeping would hold up the request that committed the change: the
                # outbox row stays for flush_schedule_outbox / reconcile_schedules.
                return "pending"
            raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc
    return "pending"


@shared_task
def flush_schedule_outbox() -> int:
    """Push every outbox row (a lost task message never strands a change). Returns the count
    still pending."""
    for code in list(MirrorOutbox.objects.values_list("code", flat=True)):
        try:
            push_outbox_entry(str(code))
        except (BotoCoreError, ClientError) as exc:
            log.warning("mirror push for %s failed: %s", code, exc)
    return MirrorOutbox.objects.count()


@shared_task
def repoint_schedule_mirrors() -> int:
    """Re-point mirrors whose expression is due to change: pinned one-off and sun runs that have
    fired, and recurring rules before the home's UTC offset changes. Run every few minutes
    (Celery beat). Returns how many were re-pointed."""
    from schedules.actions import mark_for_mirror

    now = timezone.now()
    codes = list(
        Schedule.objects.filter(mirror_repoint_after__lte=now).values_list("code", flat=True)
    )
    for code in codes:
        mark_for_mirror(code)
    return len(codes)


@shared_task
def advance_fired_schedules() -> int:
    """In AWS mode EventBridge fires the runs, not run_schedules: move `next_run` past the runs
    that are due and note them as handed to EventBridge, so the portal's next and last run stay
    true. Locally the runner does this itself (and records the Lambda's result). Returns the
    count advanced. Run every minute (Celery beat) when SMARTLIGHT_AWS_MODE=aws."""
    from django.conf import settings

    if settings.AWS_MODE != "aws":
        return 0
    now = timezone.now()
    advanced = 0
    for schedule in Schedule.objects.filter(enabled=True, next_run__lte=now).select_related("home")[
        :1000
    ]:
        due = schedule.next_run
        following = schedule.compute_next_run(now)
        advanced += Schedule.objects.filter(pk=schedule.pk, next_run=due).update(
            next_run=following,
            last_run=due,
            last_result={"status": "sent", "by": settings.SCHEDULE_BACKEND},
        )
    return advanced
