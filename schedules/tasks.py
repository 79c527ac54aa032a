"""Celery tasks that push schedules to EventBridge. Each is safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from schedules import mirror
from schedules.models import MirrorOutbox, Schedule
from smartlight import outbox

log = logging.getLogger(__name__)

# Immediate attempts when the task runs in-process (no worker to retry it later).
EAGER_ATTEMPTS = 3


def push_outbox_entry(code: str) -> str:
    """Push one schedule's mirror and clear its outbox row unless it changed meanwhile."""
    outcome = outbox.push_entry(MirrorOutbox, "code", code, lambda: mirror.push(code))
    warning = mirror.quota_status()
    if warning:
        log.warning(warning)
    return outcome


@shared_task(bind=True, max_retries=outbox.MAX_RETRIES, acks_late=True)
def push_schedule(self, code: str) -> str:
    """Bring the EventBridge mirror of schedule `code` up to date (create, update or delete)."""
    return outbox.run_push_task(self, code, lambda: push_outbox_entry(code), "schedule mirror",
                                eager_attempts=EAGER_ATTEMPTS)


@shared_task
def flush_schedule_outbox() -> int:
    """Push every outbox row; the count still pending. Run periodically (Celery beat)."""
    return outbox.flush(MirrorOutbox, "code", lambda code: push_outbox_entry(str(code)),
                        "schedule mirror")


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
