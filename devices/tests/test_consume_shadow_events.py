from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.core.management import call_command

from devices.ingest import PoisonMessage, parse_message
from devices.management.commands.consume_shadow_events import dead_letter_queue_name
from devices.models import Device

T0 = 1_790_000_000


def documents(thing: str, version: int, reported: dict, desired: dict | None = None,
              stamp: int = T0) -> str:
    """A `/update/documents` message as the smartlight_shadow_events rule sends it."""
    state = {"reported": reported}
    if desired is not None:
        state["desired"] = desired
    meta = {"reported": {k: {"timestamp": stamp} for k in reported}}
    return json.dumps({
        "previous": {"state": {}, "metadata": {}, "version": version - 1},
        "current": {"state": state, "metadata": meta, "version": version},
        "timestamp": stamp,
        "thing": thing,
    })


def send(aws, settings, *bodies: str) -> None:
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=settings.SHADOW_EVENTS_QUEUE)["QueueUrl"]
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)


def queue_depth(aws, name: str) -> int:
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def consume(capsys) -> str:
    call_command("consume_shadow_events", "--once", "--wait", "0")
    return capsys.readouterr().out


def test_it_caches_the_reported_state_and_presence(aws, settings, light, capsys):
    # Given a light that reports a new look
    reported = {"on": False, "brightness": 10, "connected": True, "fw": "1.2.0"}
    send(aws, settings, documents(light.thing_name, 4, reported, desired={"on": False},
                                  stamp=T0 + 5))
    # When the consumer runs
    out = consume(capsys)
    # Then the cache holds the document and the queue is empty
    light.refresh_from_db()
    assert "applied=1" in out
    assert light.reported == reported and light.desired == {"on": False}
    assert light.connected is True and light.fw == "1.2.0" and light.shadow_version == 4
    assert light.last_seen == datetime.fromtimestamp(T0 + 5, tz=UTC)
    assert queue_depth(aws, settings.SHADOW_EVENTS_QUEUE) == 0


def test_an_older_version_never_overwrites_a_newer_one(aws, settings, light, capsys):
    send(aws, settings, documents(light.thing_name, 9, {"brightness": 90, "connected": True}))
    consume(capsys)
    send(aws, settings, documents(light.thing_name, 8, {"brightness": 80, "connected": True}))
    out = consume(capsys)
    light.refresh_from_db()
    assert "stale=1" in out
    assert light.reported["brightness"] == 90 and light.shadow_version == 9
    assert queue_depth(aws, settings.SHADOW_EVENTS_QUEUE) == 0


def test_the_highest_version_of_a_batch_wins_whatever_the_order(aws, settings, light, capsys):
    send(
        aws, settings,
        documents(light.thing_name, 12, {"brightness": 12, "connected": True}),
        documents(light.thing_name, 14, {"brightness": 14, "connected": True}),
        documents(light.thing_name, 13, {"brightness": 13, "connected": True}),
    )
    consume(capsys)
    light.refresh_from_db()
    assert light.reported["brightness"] == 14 and light.shadow_version == 14


def test_the_last_will_marks_the_light_offline_and_keeps_last_seen(aws, settings, light,
                                                                   capsys):
    send(aws, settings, documents(light.thing_name, 5, {"on": True, "connected": True},
                                  stamp=T0))
    consume(capsys)
    lwt = json.loads(documents(light.thing_name, 6, {"on": True, "connected": False},
                               stamp=T0 + 30))
    # The LWT republish only touches `connected`: the other leaves keep their time.
    lwt["current"]["metadata"]["reported"]["on"]["timestamp"] = T0
    send(aws, settings, json.dumps(lwt))
    consume(capsys)
    light.refresh_from_db()
    assert light.connected is False
    assert light.last_seen == datetime.fromtimestamp(T0, tz=UTC)


def test_it_updates_many_lights_in_one_batch(aws, settings, home, capsys,
                                             django_assert_max_num_queries):
    lights = [
        Device.objects.create(home=home, name=f"L{i}", thing_name=f"sl-{i:012x}")
        for i in range(10)
    ]
    send(aws, settings, *[
        documents(d.thing_name, 2, {"brightness": i, "connected": True})
        for i, d in enumerate(lights)
    ])
    # one SELECT ... FOR UPDATE and one bulk UPDATE, inside a transaction
    with django_assert_max_num_queries(6):
        call_command("consume_shadow_events", "--once", "--wait", "0")
    assert sorted(Device.objects.values_list("reported__brightness", flat=True)) == list(
        range(10)
    )


@pytest.mark.parametrize(
    "body",
    [
        "not json at all",
        "[1, 2, 3]",
        json.dumps({"current": {"state": {}, "version": 1}}),  # no thing
        json.dumps({"thing": "kitchen", "current": {"state": {}, "version": 1}}),
        json.dumps({"thing": "sl-0000000000a1", "current": {"state": {}}}),  # no version
        json.dumps({"thing": "sl-0000000000a1", "current": {"state": [], "version": 2}}),
    ],
)
def test_a_poison_message_is_moved_aside_and_changes_nothing(aws, settings, light, capsys,
                                                             body):
    before = Device.objects.values().get(pk=light.pk)
    good = documents("sl-0000000000a1", 7, {"brightness": 7, "connected": True})
    send(aws, settings, body, good)
    out = consume(capsys)
    assert "poison=1" in out
    light.refresh_from_db()
    assert light.reported == {"brightness": 7, "connected": True}  # the good one still applied
    assert queue_depth(aws, settings.SHADOW_EVENTS_QUEUE) == 0
    dead = dead_letter_queue_name(settings.SHADOW_EVENTS_QUEUE)
    sqs = aws.client("sqs")
    moved = sqs.receive_message(
        QueueUrl=sqs.get_queue_url(QueueName=dead)["QueueUrl"], MessageAttributeNames=["All"]
    )["Messages"]
    assert [m["Body"] for m in moved] == [body]
    assert moved[0]["MessageAttributes"]["reason"]["StringValue"]
    assert before["shadow_version"] == 3


def test_documents_of_unregistered_things_are_dropped(aws, settings, light, capsys):
    send(aws, settings, documents("sl-ffffffffffff", 3, {"connected": True}))
    out = consume(capsys)
    assert "unknown=1" in out
    assert queue_depth(aws, settings.SHADOW_EVENTS_QUEUE) == 0


def test_messages_stay_queued_when_the_database_write_fails(aws, settings, light, monkeypatch):
    from devices.management.commands import consume_shadow_events

    def broken(events):
        raise RuntimeError("database is down")

    monkeypatch.setattr(consume_shadow_events, "apply_events", broken)
    send(aws, settings, documents(light.thing_name, 20, {"connected": True}))
    with pytest.raises(RuntimeError):
        call_command("consume_shadow_events", "--once", "--wait", "0")
    assert queue_depth(aws, settings.SHADOW_EVENTS_QUEUE) == 1


def test_parse_message_names_the_problem():
    with pytest.raises(PoisonMessage, match="not JSON"):
        parse_message(b"\xff")
    with pytest.raises(PoisonMessage, match="thing"):
        parse_message(json.dumps({"thing": "SL-1", "current": {}}))


def test_a_recreated_shadow_with_a_lower_version_replaces_the_cache(aws, settings, light,
                                                                    capsys):
    # AWS restarts the version at 0 when a shadow deleted for over 48 hours is made again.
    send(aws, settings, documents(light.thing_name, 40, {"brightness": 40, "connected": True},
                                  stamp=T0))
    consume(capsys)
    send(aws, settings, documents(light.thing_name, 1, {"brightness": 1, "connected": True},
                                  stamp=T0 + 3 * 86400))
    consume(capsys)
    light.refresh_from_db()
    assert light.shadow_version == 1 and light.reported["brightness"] == 1


def test_a_lower_version_written_earlier_is_stale(aws, settings, light, capsys):
    send(aws, settings, documents(light.thing_name, 40, {"brightness": 40, "connected": True},
                                  stamp=T0 + 10))
    consume(capsys)
    send(aws, settings, documents(light.thing_name, 39, {"brightness": 39, "connected": True},
                                  stamp=T0 + 9))
    assert "stale=1" in consume(capsys)
    light.refresh_from_db()
    assert light.shadow_version == 40 and light.reported["brightness"] == 40
