"""moto's SQS in localcloud: a send does not walk the messages already queued, and the queue's
counts stay what SQS answers."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws
from moto.sqs import models

from localcloud import sqs

REGION = "us-east-1"


@pytest.fixture
def queue(monkeypatch):
    """A queue in moto (in this process) with the patch applied, undone after the test."""
    for name in sqs.SENDS:
        monkeypatch.setattr(models.SQSBackend, name, getattr(models.SQSBackend, name))
    for name in sqs.COUNTS:
        monkeypatch.setattr(models.Queue, name, getattr(models.Queue, name))
    sqs.sends_without_counting()
    sqs.sends_without_counting()  # idempotent: a second call wraps nothing twice
    with mock_aws():
        client = boto3.client("sqs", region_name=REGION)
        url = client.create_queue(QueueName="shadow-events")["QueueUrl"]
        yield client, url


@pytest.fixture
def looks(monkeypatch):
    """How many times moto looks at one message's visibility or delay."""
    seen = {"count": 0}
    for name in ("visible", "delayed"):
        original = getattr(models.Message, name)

        def counted(self, original=original):
            seen["count"] += 1
            return original.fget(self)

        monkeypatch.setattr(models.Message, name, property(counted))
    return seen


def send(client, url, count: int) -> None:
    for start in range(0, count, 10):
        client.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": f'{{"n":{start + i}}}'}
            for i in range(min(10, count - start))])


def test_a_send_looks_at_no_message_already_queued(queue, looks):
    client, url = queue
    send(client, url, 200)
    looks["count"] = 0
    send(client, url, 10)
    assert looks["count"] == 0


def test_the_queue_still_counts_its_messages(queue):
    client, url = queue
    send(client, url, 25)
    client.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    client.receive_message(QueueUrl=url, MaxNumberOfMessages=5)
    counts = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == "20"
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "5"
    assert counts["ApproximateNumberOfMessagesDelayed"] == "1"


def test_fifo_queues_still_deduplicate_by_content(queue):
    client, _ = queue
    url = client.create_queue(QueueName="events.fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    for _ in range(2):
        client.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    received = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in received] == ["same"]


def test_the_rules_forwarder_queues_messages_as_sqs_sends_them():
    import hashlib

    from moto.server import ThreadedMotoServer

    from localcloud.cloud import SqsForwarder

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        forwarder = SqsForwarder(f"http://{host}:{port}", "forwarded-events")
        bodies = [f'{{"version":{n},"thing":"sl-00000000000{n % 10}"}}'.encode()
                  for n in range(23)]
        for body in bodies:
            forwarder.put(body)
        forwarder.stop()  # sends what is pending, then ends
        client = boto3.client("sqs", region_name=REGION, endpoint_url=f"http://{host}:{port}",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        url = client.get_queue_url(QueueName="forwarded-events")["QueueUrl"]
        received = []
        while batch := client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
                "Messages"):
            received.extend(batch)
        assert forwarder.sent == len(bodies)
        assert sorted(m["Body"] for m in received) == sorted(b.decode() for b in bodies)
        assert all(m["MD5OfBody"] == hashlib.md5(m["Body"].encode()).hexdigest()  # noqa: S324
                   for m in received)
    finally:
        server.stop()
