"""The schedule Lambda against moto's iot-data."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging

import pytest

SCHEDULE = "0b6f6a4e-7f43-4c55-9b7e-2f0d9a3c1e11"
A, B, C = "sl-00000000000a", "sl-00000000000b", "sl-00000000000c"
NOW = dt.datetime(2026, 3, 29, 5, 0, 17, tzinfo=dt.UTC)


class Recording:
    """Passes calls to the real client and remembers the shadow documents sent."""

    def __init__(self, client) -> None:
        self.client = client
        self.sent: list[tuple[str, dict]] = []

    def update_thing_shadow(self, thingName, payload):
        self.sent.append((thingName, json.loads(payload)))
        return self.client.update_thing_shadow(thingName=thingName, payload=payload)


def shadow(data, thing: str) -> dict:
    return json.loads(data.get_thing_shadow(thingName=thing)["payload"].read())


def event(**overrides) -> dict:
    base = {"schedule": SCHEDULE, "things": [A, B], "desired": {"on": True, "brightness": 200}}
    base.update(overrides)
    return base


@pytest.fixture
def things(iot):
    """A and B registered with empty shadows; C never registered."""
    registry, data = iot
    for thing in (A, B):
        registry.create_thing(thingName=thing)
    yield Recording(data)
    for thing in (A, B):
        with contextlib.suppress(data.exceptions.ResourceNotFoundException):
            data.delete_thing_shadow(thingName=thing)


def test_it_writes_the_desired_state_to_each_thing(schedule_handler, things):
    result = schedule_handler.handler(event(), None, iot_data=things, now=NOW)
    assert result["status"] == "ok"
    assert result["ok"] == [A, B]
    assert result["failed"] == []
    for thing in (A, B):
        assert shadow(things.client, thing)["state"]["desired"] == {"on": True, "brightness": 200}


def test_every_write_carries_the_same_client_token_for_the_schedule_and_fire_minute(
    schedule_handler, things
):
    schedule_handler.handler(event(), None, iot_data=things, now=NOW)
    tokens = {document["clientToken"] for _, document in things.sent}
    assert tokens == {"sch-0b6f6a4e7f434c559b7e2f0d9a3c1e11-202603290500"}
    assert len(tokens.pop()) <= 64  # AWS IoT's clientToken limit


def test_the_fire_time_comes_from_the_input_when_given(schedule_handler, things):
    result = schedule_handler.handler(
        event(time="2026-03-29T04:59:00Z"), None, iot_data=things, now=NOW
    )
    assert result["fire_time"] == "2026-03-29T04:59:00Z"
    assert result["client_token"].endswith("-202603290459")


def test_an_unsubstituted_scheduler_placeholder_falls_back_to_the_current_minute(
    schedule_handler, things
):
    result = schedule_handler.handler(
        event(time="<aws.scheduler.scheduled-time>"), None, iot_data=things, now=NOW
    )
    assert result["fire_time"] == "2026-03-29T05:00:00Z"


def test_one_failing_thing_does_not_stop_the_others(schedule_handler, things):
    # C is not in moto's registry, so its shadow update fails with ResourceNotFound.
    result = schedule_handler.handler(event(things=[A, C, B]), None, iot_data=things, now=NOW)
    assert result["status"] == "partial"
    assert result["ok"] == [A, B]
    assert [f["thing"] for f in result["failed"]] == [C]
    assert "ResourceNotFound" in result["failed"][0]["error"]
    assert shadow(things.client, B)["state"]["desired"]["on"] is True


def test_every_thing_failing_is_a_failed_run(schedule_handler, iot):
    _, data = iot
    result = schedule_handler.handler(event(things=[C]), None, iot_data=data, now=NOW)
    assert result["status"] == "failed"
    assert result["ok"] == []


def test_the_same_schedule_and_fire_time_is_written_once(schedule_handler, things):
    first = schedule_handler.handler(event(), None, iot_data=things, now=NOW)
    version = shadow(things.client, A)["version"]
    again = schedule_handler.handler(
        event(), None, iot_data=things, now=NOW + dt.timedelta(seconds=30)
    )
    assert first["ok"] == [A, B]
    assert again["status"] == "ok"
    assert again["ok"] == []
    assert again["duplicate"] == [A, B]
    assert len(things.sent) == 2
    assert shadow(things.client, A)["version"] == version


def test_the_next_fire_time_writes_again(schedule_handler, things):
    schedule_handler.handler(event(), None, iot_data=things, now=NOW)
    later = schedule_handler.handler(event(), None, iot_data=things, now=NOW + dt.timedelta(days=1))
    assert later["ok"] == [A, B]
    assert len(things.sent) == 4


def test_a_scene_sets_each_things_own_state(schedule_handler, things):
    result = schedule_handler.handler(
        event(desired={}, states={A: {"on": True, "color": "#ff8800"}, B: {"on": False}}),
        None,
        iot_data=things,
        now=NOW,
    )
    assert result["status"] == "ok"
    assert shadow(things.client, A)["state"]["desired"] == {"on": True, "color": "#ff8800"}
    assert shadow(things.client, B)["state"]["desired"] == {"on": False}


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"schedule": "not-a-uuid"}, "schedule must be"),
        ({"things": []}, "non-empty list"),
        ({"things": "sl-00000000000a"}, "non-empty list"),
        ({"things": ["lamp-1"]}, "is not a thing name"),
        ({"things": ["sl-0123456789ab\n"]}, "is not a thing name"),
        ({"desired": {"brightness": 300}}, "desired.brightness"),
        ({"desired": {"color": "#ff0000\n"}}, "desired.color"),
        ({"desired": {"on": "yes"}}, "desired.on"),
        ({"desired": {"volume": 3}}, "not a desired key"),
        ({"desired": {}}, "nothing to set"),
        ({"states": {C: {"on": True}}}, "not in things"),
        ({"time": "yesterday"}, "ISO 8601"),
    ],
)
def test_it_rejects_bad_input_and_writes_nothing(schedule_handler, things, bad, reason):
    result = schedule_handler.handler(event(**bad), None, iot_data=things, now=NOW)
    assert result["status"] == "invalid"
    assert reason in result["error"]
    assert things.sent == []


def test_it_rejects_input_that_is_not_an_object(schedule_handler, things):
    result = schedule_handler.handler(["sl-00000000000a"], None, iot_data=things, now=NOW)
    assert result["status"] == "invalid"
    assert things.sent == []


def test_it_logs_one_structured_line_per_run(schedule_handler, things, caplog):
    caplog.set_level(logging.INFO, logger="schedule_handler")
    schedule_handler.handler(event(things=[A, C]), None, iot_data=things, now=NOW)
    lines = [r.getMessage() for r in caplog.records if r.name == "schedule_handler"]
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert line["event"] == "schedule_run"
    assert line["status"] == "partial"
    assert line["schedule"] == SCHEDULE
    assert line["fire_time"] == "2026-03-29T05:00:00Z"
    assert line["ok"] == 1
    assert [f["thing"] for f in line["failed"]] == [C]
    assert line["duration_ms"] >= 0
