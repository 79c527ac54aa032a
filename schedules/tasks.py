"""Periodic Celery tasks of schedules. Each is safe to run twice.

Pushing mirrors is the one outbox task's job (smartlight.outbox); firing and re-pointing is the
Lambda's. These are safety nets and bookkeeping for the portal.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from schedules import actions, mirror
from schedules.models import Schedule


@shared_task
def repair_stalled_mirrors() -> int:
    """Re-push mirrors last written for a run long past. Normally the Lambda has re-pointed
    them and the push only reads (nothing changes); if a run's Lambda failed for good, this
    points the mirror at the next run. Run every few minutes (Celery beat). Returns the count
    marked."""
    codes = mirror.stalled_codes()
    for code in codes:
        actions.mark_for_mirror(code)
    return len(codes)


@shared_task
def advance_fired_schedules() -> int:
    """In AWS mode EventBridge fires the runs, not run_schedules: move `next_run` past the runs
    that are due and note them as handed to EventBridge, so the portal's next and last run stay
    true. Locally the runner does this itself (and records the Lambda's result). Returns the
    count advanced. Run every minute (Celery beat) when SMARTLIGHT_AWS_MODE=aws."""
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
