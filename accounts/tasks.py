"""Celery tasks that push the iot_cookie mirror. Each is safe to run twice."""

from __future__ import annotations

from celery import shared_task

from accounts import iot_cookie
from accounts.models import IotCookieOutbox
from smartlight import outbox


def push_outbox_entry(user_id: str) -> str:
    """Push one user's item and clear its outbox row unless it changed meanwhile."""
    return outbox.push_entry(IotCookieOutbox, "user_id", user_id,
                             lambda: iot_cookie.push(user_id))


@shared_task(bind=True, max_retries=outbox.MAX_RETRIES, acks_late=True)
def push_iot_cookie(self, user_id: str) -> str:
    """Bring the iot_cookie item of `user_id` up to date (put or delete)."""
    return outbox.run_push_task(self, user_id, lambda: push_outbox_entry(user_id), "iot_cookie")


@shared_task
def flush_iot_cookie_outbox() -> int:
    """Push every outbox row; the count still pending. Run periodically (Celery beat)."""
    return outbox.flush(IotCookieOutbox, "user_id", push_outbox_entry, "iot_cookie")
