"""Long-poll the shadow-events SQS queue and keep every device's cached shadow current.

Safe to run twice: a message is deleted only after the database commit that applied it, so a
crash redelivers it, and `apply_events` ignores a version the cache already has. A message that
can never be applied (not a documents event, or one the database refuses: each message is
applied in its own savepoint) is copied to the dead-letter queue and then deleted, so it never
blocks the queue or the rest of its batch.
"""

from __future__ import annotations

import logging
import signal
import time
from typing import Any

from botocore.exceptions import EndpointConnectionError
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from devices.ingest import PoisonMessage, apply_events, parse_message
from smartlight import aws

log = logging.getLogger("devices.consumer")

# SQS limits: at most 10 messages per ReceiveMessage, long polling waits at most 20 s.
BATCH = 10
WAIT_SECONDS = 20


def dead_letter_queue_name(queue: str) -> str:
    return f"{queue}-dead"


class Consumer:
    def __init__(self, queue_name: str, wait_seconds: int = WAIT_SECONDS):
        self.sqs = aws.client("sqs")
        self.queue_name = queue_name
        self.wait_seconds = wait_seconds
        self.queue_url = self.sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        self._dead_url: str | None = None

    @property
    def dead_url(self) -> str:
        # In AWS the dead-letter queue is infrastructure (the stack deploy/smartlight.yaml,
        # also the main queue's redrive target); locally it is made on first use.
        if self._dead_url is None:
            name = dead_letter_queue_name(self.queue_name)
            try:
                self._dead_url = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
            except self.sqs.exceptions.QueueDoesNotExist:
                self._dead_url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        return self._dead_url

    def poll_once(self) -> dict[str, int]:
        """Receive one batch, apply it, delete what was handled; returns counts."""
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=BATCH,
            WaitTimeSeconds=self.wait_seconds,
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        if not messages:
            return {"received": 0, "applied": 0, "stale": 0, "poison": 0, "unknown": 0}
        events, handled, poison = [], [], 0
        source: dict[int, dict[str, Any]] = {}  # id(event) -> its message
        for message in messages:
            try:
                event = parse_message(message.get("Body", ""))
            except PoisonMessage as exc:
                poison += 1
                self.move_aside(message, str(exc))
            else:
                events.append(event)
                source[id(event)] = message
            handled.append(message)
        result = apply_events(events)  # commits before anything is deleted below
        for event, reason in result.failed:
            poison += 1
            self.move_aside(source[id(event)], f"the database refused it: {reason}")
        if result.unknown:
            log.info("documents for unregistered things dropped: %s", sorted(result.unknown))
        self.delete(handled)
        return {
            "received": len(messages),
            "applied": len(result.applied),
            "stale": result.stale,
            "poison": poison,
            "unknown": len(result.unknown),
        }

    def move_aside(self, message: dict[str, Any], reason: str) -> None:
        body = message.get("Body", "")
        log.warning("poison shadow event %s: %s: %.200r", message.get("MessageId"), reason, body)
        self.sqs.send_message(
            QueueUrl=self.dead_url,
            MessageBody=body or "(empty)",
            MessageAttributes={
                "reason": {"DataType": "String", "StringValue": reason[:256]},
                "source_queue": {"DataType": "String", "StringValue": self.queue_name},
            },
        )

    def delete(self, messages: list[dict[str, Any]]) -> None:
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
        ]
        if not entries:
            return
        response = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
        for failure in response.get("Failed", []):
            # Redelivered later and then found stale: harmless, but worth knowing.
            log.warning("could not delete message %s: %s", failure.get("Id"),
                        failure.get("Message"))


def _exit(signum, frame) -> None:
    raise SystemExit(0)


class Command(BaseCommand):
    help = "Consume shadow /update/documents events from SQS into the devices' cached state."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Handle one batch and exit.")
        parser.add_argument("--queue", default=None, help="Queue name (default from settings).")
        parser.add_argument("--wait", type=int, default=WAIT_SECONDS,
                            help="Long-poll wait in seconds (0..20).")

    def handle(self, *args, once: bool = False, queue: str | None = None, wait: int = 20,
               **options):
        if not 0 <= wait <= 20:
            self.stderr.write("--wait must be from 0 to 20 seconds (the SQS long-poll limit)")
            raise SystemExit(2)
        name = queue or settings.SHADOW_EVENTS_QUEUE
        consumer = self._connect(name, wait, once)
        if once:
            counts = consumer.poll_once()
            self.stdout.write(" ".join(f"{k}={v}" for k, v in counts.items()))
            return
        # Stop at once, even inside a 20 s long poll: whatever was applied but not yet deleted
        # comes back later and is found stale, so nothing is lost or applied twice.
        signal.signal(signal.SIGTERM, _exit)
        signal.signal(signal.SIGINT, _exit)
        self.stdout.write(f"consuming {name}")
        pause = 1.0
        while True:
            try:
                # A long-running process must drop connections the database closed or that
                # outlived CONN_MAX_AGE, as Django does around each web request.
                close_old_connections()
                consumer.poll_once()
                pause = 1.0
            except EndpointConnectionError as exc:
                # The queue's endpoint is down (localcloud restarting, a network blip): one
                # line, and wait longer each time, up to 30 s.
                log.warning("shadow events queue unreachable (%s); retrying in %.0f s", exc, pause)
                time.sleep(pause)
                pause = min(30.0, pause * 2)
            except Exception:
                # A broken database or queue must not kill the consumer for good.
                log.exception("shadow events batch failed; retrying")
                time.sleep(2)

    def _connect(self, name: str, wait: int, once: bool) -> Consumer:
        # Under `make run` the queue appears when localcloud has started: wait for it.
        deadline = time.monotonic() + (0 if once else 60)
        while True:
            try:
                return Consumer(name, wait_seconds=wait)
            except Exception as exc:
                if time.monotonic() >= deadline:
                    raise
                log.info("queue %s not reachable yet (%s); retrying", name, exc)
                time.sleep(1)
