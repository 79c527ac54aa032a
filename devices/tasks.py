"""Celery tasks that take removed lights' AWS side down. Each is safe to run twice."""

from __future__ import annotations

from celery import shared_task

from devices import provisioning
from devices.models import RetiredThing
from smartlight import outbox


def push_retired(thing_name: str) -> str:
    """Take the thing down in AWS (safe to repeat) and re-arm its serial for the hook."""
    entry = RetiredThing.objects.filter(thing_name=thing_name).first()
    provisioning.retire_thing(thing_name)
    if entry is not None and entry.serial:
        provisioning.set_serial_status(entry.serial, "made", thing_name)
    return "retired"


def push_outbox_entry(thing_name: str) -> str:
    return outbox.push_entry(RetiredThing, "thing_name", thing_name,
                             lambda: push_retired(thing_name))


@shared_task(bind=True, max_retries=outbox.MAX_RETRIES, acks_late=True)
def retire_thing(self, thing_name: str) -> str:
    """Deactivate the certificates of `thing_name`, delete its shadow and the thing."""
    return outbox.run_push_task(self, thing_name, lambda: push_outbox_entry(thing_name),
                                "retire thing")


@shared_task
def flush_retired_things() -> int:
    """Push every outbox row; the count still pending. Run periodically (Celery beat)."""
    return outbox.flush(RetiredThing, "thing_name", push_outbox_entry, "retire thing")


def enqueue_retire(thing_name: str) -> None:
    retire_thing.delay(thing_name)
