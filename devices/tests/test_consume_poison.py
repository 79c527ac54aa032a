"""One light cannot poison the others' status: what it reports is cleaned to the contract, and a
message the database refuses fails alone (its own savepoint) and goes to the dead-letter queue
while the rest of its batch applies. Run on PostgreSQL and on SQLite."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from devices import ingest
from devices.management.commands.consume_shadow_events import dead_letter_queue_name
from devices.models import Device
from devices.tests.test_consume_shadow_events import consume, documents, queue_depth, send


@pytest.fixture
def neighbours(home, charlies_home):
    """Lights of two other homes (and one more of alice's), each with a cached version 1."""
    return [
        Device.objects.create(home=h, name=f"L{i}", thing_name=f"sl-0000000001{i:02x}",
                              shadow_version=1)
        for i, h in enumerate([charlies_home, charlies_home, home])
    ]


def dead_letters(aws, settings) -> list[dict]:
    sqs = aws.client("sqs")
    name = dead_letter_queue_name(settings.SHADOW_EVENTS_QUEUE)
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        return []
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                               MessageAttributeNames=["All"]).get("Messages", [])


def test_a_nul_in_one_lights_report_is_cleaned_and_every_home_is_updated(
    aws, settings, light, neighbours, capsys,
):
    # Given a batch: a report full of NUL and control characters among other homes' updates
    evil = {"on": True, "connected": True, "fw": "evil\u0000x\u001b[31m",
            "effects": ["solid", "disco\u0000", "rainbow"], "note\u0000": "a\u0000b",
            "big": "x" * 100_000, "list": list(range(10_000))}
    bodies = [documents(d.thing_name, 5, {"brightness": 10 + i, "connected": True})
              for i, d in enumerate(neighbours)]
    bodies.insert(1, documents(light.thing_name, 9, evil))
    send(aws, settings, *bodies)
    # When the consumer handles the batch
    out = consume(capsys)
    # Then every light, of every home, has its new state
    assert "received=4 applied=4" in out and "poison=0" in out
    for i, device in enumerate(neighbours):
        device.refresh_from_db()
        assert device.reported == {"brightness": 10 + i, "connected": True}
        assert device.shadow_version == 5
    light.refresh_from_db()
    assert light.shadow_version == 9
    assert light.fw == "evilx[31m"
    assert light.reported["effects"] == ["solid", "rainbow"]
    assert light.reported["note"] == "ab"
    assert len(light.reported["big"]) == 256 and len(light.reported["list"]) == 64
    assert "\u0000" not in json.dumps(light.reported)
    assert queue_depth(aws, settings.SHADOW_EVENTS_QUEUE) == 0
    assert dead_letters(aws, settings) == []


def _poison_cases():
    cases = [pytest.param("version", id="a version beyond 64 bits")]
    cases.append(pytest.param("nul", id="a NUL that escaped cleaning (PostgreSQL jsonb)"))
    return cases


@pytest.mark.parametrize("poison", _poison_cases())
def test_a_message_the_database_refuses_goes_alone_to_the_dead_letter_queue(
    aws, settings, light, neighbours, capsys, monkeypatch, poison,
):
    # Given a gap in the checks before the database (simulated), and a message that falls in it
    if poison == "nul":
        if connection.vendor != "postgresql":
            pytest.skip("SQLite stores NUL in JSON; PostgreSQL's jsonb refuses it")
        monkeypatch.setattr(ingest.contract, "sanitize_state",
                            lambda state: dict(state) if isinstance(state, dict) else {})
        bad = documents(light.thing_name, 9, {"connected": True, "fw": "x", "note": "a\u0000b"})
    else:
        monkeypatch.setattr(ingest, "MAX_VERSION", 2**70)
        bad = documents(light.thing_name, 2**64, {"connected": True})
    before = Device.objects.values().get(pk=light.pk)
    bodies = [documents(d.thing_name, 5, {"brightness": 10 + i, "connected": True})
              for i, d in enumerate(neighbours)]
    bodies.insert(1, bad)
    send(aws, settings, *bodies)
    # When the consumer handles the batch
    out = consume(capsys)
    # Then the other homes' updates are applied, the refused one alone is dead-lettered
    assert "received=4 applied=3" in out and "poison=1" in out
    for i, device in enumerate(neighbours):
        device.refresh_from_db()
        assert device.reported == {"brightness": 10 + i, "connected": True}
    assert Device.objects.values().get(pk=light.pk) == before
    moved = dead_letters(aws, settings)
    assert [m["Body"] for m in moved] == [bad]
    assert moved[0]["MessageAttributes"]["reason"]["StringValue"].startswith(
        "the database refused it")
    assert queue_depth(aws, settings.SHADOW_EVENTS_QUEUE) == 0


def test_a_database_that_is_down_leaves_the_whole_batch_queued(aws, settings, light, neighbours,
                                                               monkeypatch):
    from django.core.management import call_command
    from django.db import OperationalError

    def down(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(ingest, "update_rows", down)
    send(aws, settings, *[documents(d.thing_name, 5, {"connected": True}) for d in neighbours])
    with pytest.raises(OperationalError):
        call_command("consume_shadow_events", "--once", "--wait", "0")
    assert queue_depth(aws, settings.SHADOW_EVENTS_QUEUE) == 3
    assert dead_letters(aws, settings) == []
