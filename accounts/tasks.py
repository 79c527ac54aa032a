"""Celery tasks that push the iot_cookie mirror. Each is safe to run twice."""

from __future__ import annotations

import logging
import random

from botocore.exceptions import BotoCoreError, ClientError
from celery import shared_task
from django.db.models import F
from django.utils import timezone

from accounts import iot_cookie
from accounts.models import IotCookieOutbox

log = logging.getLogger(__name__)

MAX_RETRIES = 8


def backoff(retries: int) -> float:
    """Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And
    Jitter"): up to 5 s, 10 s, 20 s ... capped at 10 minutes."""
    return random.uniform(0, min(600, 5 * 2**retries))


def push_outbox_entry(user_id: str) -> str:
    """Push one user's item and clear its outbox row unless it changed meanwhile.

    Raises the AWS error (after recording it on the row) so the caller can retry.
    """
    entry = IotCookieOutbox.objects.filter(user_id=user_id).first()
    version = entry.version if entry else None
    try:
        outcome = iot_cookie.push(user_id)
    except (BotoCoreError, ClientError) as exc:
        IotCookieOutbox.objects.filter(user_id=user_id).update(
            attempts=F("attempts") + 1, last_error=str(exc)[:1000], updated=timezone.now()
        )
        raise
    if version is not None:
        # A change committed while we pushed bumped the version: keep the row for its own push.
        IotCookieOutbox.objects.filter(user_id=user_id, version=version).delete()
    return outcome


@shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True)
def push_iot_cookie(self, user_id: str) -> str:
    """Bring the iot_cookie item of `user_id` up to date (put or delete)."""
    try:
        return push_outbox_entry(user_id)
    except (BotoCoreError, ClientError) as exc:
        log.warning(
            "iot_cookie push for %s failed (attempt %s): %s",
            user_id,
            self.request.retries + 1,
            exc,
        )
        if self.request.is_eager:
            # Run in-process (tests, CELERY_TASK_ALWAYS_EAGER): retrying here would block the
            # request that committed the change. The outbox row stays for flush/reconcile.
            return "pending"
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc


@shared_task
def flush_iot_cookie_outbox() -> int:
    """Push every outbox row (a lost task message never strands a change). Returns the count
    still pending. Run it periodically (Celery beat)."""
    for user_id in list(IotCookieOutbox.objects.values_list("user_id", flat=True)):
        try:
            push_outbox_entry(user_id)
        except (BotoCoreError, ClientError) as exc:
            log.warning("iot_cookie push for %s failed: %s", user_id, exc)
    return IotCookieOutbox.objects.count()
