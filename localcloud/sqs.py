"""SQS in moto without its cost per queued message on SendMessage.

moto's SendMessage reads `queue.attributes` for the one setting ContentBasedDeduplication, and
that property counts every message in the queue three times over (ApproximateNumberOfMessages,
...Delayed, ...NotVisible), asking the clock for each. A send therefore costs time in
proportion to the queue's depth: about 1.5 ms a message per thousand messages waiting. The
shadow-events rule sends every shadow document to one queue, so while nobody drains it (no
consumer running, a benchmark, a test) moto ends up busy full time in localcloud's process,
holding the interpreter lock the data plane's event loop needs, and every shadow request waits
behind it. In SQS a send does not depend on what is already queued.

`sends_without_counting()` makes moto (in this process) skip those three counts while it sends:
within a send nothing reads them, and GetQueueAttributes, ReceiveMessage and the rest count
as before. The cost of a send stays constant.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

# The queue attributes moto computes by walking every message.
COUNTS = (
    "approximate_number_of_messages",
    "approximate_number_of_messages_delayed",
    "approximate_number_of_messages_not_visible",
)
# The backend methods that create messages (SendMessageBatch calls SendMessage per entry).
SENDS = ("send_message", "send_message_batch")

_sending = threading.local()


def _while_sending(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def send(*args: Any, **kwargs: Any) -> Any:
        outer = getattr(_sending, "active", False)
        _sending.active = True
        try:
            return method(*args, **kwargs)
        finally:
            _sending.active = outer

    send.__wrapped_for_sends__ = True  # type: ignore[attr-defined]
    return send


def _uncounted_while_sending(count: property) -> property:
    def getter(self: Any) -> int:
        if getattr(_sending, "active", False):
            # Read only as part of the attribute dictionary, for ContentBasedDeduplication.
            return 0
        return count.fget(self)  # type: ignore[misc]

    getter.__wrapped_for_sends__ = True  # type: ignore[attr-defined]
    return property(getter, doc=count.__doc__)


def sends_without_counting() -> None:
    """Patch moto's SQS models in this process (idempotent)."""
    from moto.sqs.models import Queue, SQSBackend

    for name in SENDS:
        method = getattr(SQSBackend, name)
        if not getattr(method, "__wrapped_for_sends__", False):
            setattr(SQSBackend, name, _while_sending(method))
    for name in COUNTS:
        count = getattr(Queue, name)
        if not getattr(count.fget, "__wrapped_for_sends__", False):
            setattr(Queue, name, _uncounted_while_sending(count))
