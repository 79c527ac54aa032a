"""The schedule Lambda fed exactly what each backend delivers (moto's EventBridge, Scheduler and
IoT): it writes the run's state once, re-points the mirror at the next run, and a redelivery,
even to a cold container, changes nothing."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json

import pytest

from schedules import actions, mirror
from schedules.runner import HANDLER_PATH

UTC = dt.UTC
CREATED = dt.datetime(2026, 6, 10, 12, tzinfo=UTC)
FIRST = dt.datetime(2026, 6, 11, 5, tzinfo=UTC)  # weekdays 07:00 Berlin (CEST)
SECOND = dt.datetime(2026, 6, 12, 5, tzinfo=UTC)


def fresh_handler_module():
    """A new copy of the Lambda's module: a cold container, with nothing in memory."""
    spec = importlib.util.spec_from_file_location("schedule_handler_cold", HANDLER_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def clients(aws, lamp):
    aws.client("iot").create_thing(thingName=lamp.thing_name)
    return {
        "iot_data": aws.client("iot-data"),
        "events": aws.client("events"),
        "scheduler": aws.client("scheduler"),
    }


def shadow(clients, thing: str) -> dict:
    return json.loads(clients["iot_data"].get_thing_shadow(thingName=thing)["payload"].read())


def delivered(clients, backend: str, schedule, fire: dt.datetime) -> dict:
    """What EventBridge hands the Lambda: a rule's constant Input, or Scheduler's Input with its
    context attribute substituted."""
    name = mirror.mirror_name(schedule.code)
    if backend == "rules":
        return json.loads(clients["events"].list_targets_by_rule(Rule=name)["Targets"][0]["Input"])
    found = clients["scheduler"].get_schedule(Name=name, GroupName="default")
    text = found["Target"]["Input"].replace("<aws.scheduler.scheduled-time>",
                                            fire.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return json.loads(text)


def expression(clients, backend: str, schedule) -> str:
    name = mirror.mirror_name(schedule.code)
    if backend == "rules":
        return clients["events"].describe_rule(Name=name)["ScheduleExpression"]
    return clients["scheduler"].get_schedule(Name=name, GroupName="default")["ScheduleExpression"]


@pytest.mark.parametrize("backend", ["rules", "scheduler"])
def test_a_run_writes_once_and_moves_the_mirror_to_the_next_run(
    backend, settings, clients, make_schedule, lamp, committed
):
    settings.SCHEDULE_BACKEND = backend
    with committed(CREATED):
        schedule = make_schedule()
    handler = fresh_handler_module().handler
    event = delivered(clients, backend, schedule, FIRST)

    result = handler(event, None, now=FIRST + dt.timedelta(seconds=2), **clients)

    assert result["status"] == "ok" and result["ok"] == [lamp.thing_name]
    assert result["fire_time"] == "2026-06-11T05:00:00Z"
    assert result["next"] == "2026-06-12T05:00:00Z"
    state = shadow(clients, lamp.thing_name)
    assert state["state"]["desired"] == {"on": True, "brightness": 255, "transition_ms": 900000}
    assert expression(clients, backend, schedule) in (
        "cron(0 5 12 6 ? 2026)", "at(2026-06-12T05:00:00)")
    assert delivered(clients, backend, schedule, SECOND)["done"] == "2026-06-11T05:00:00Z"
    # What the platform would write now is exactly what the Lambda wrote: no drift.
    assert mirror.drift(str(schedule.code), now=FIRST + dt.timedelta(minutes=1)) is None

    # The same event again, to a cold container (nothing remembered in memory):
    again = fresh_handler_module().handler(event, None, now=FIRST + dt.timedelta(minutes=3),
                                           **clients)
    assert again["status"] == "duplicate"
    assert shadow(clients, lamp.thing_name)["version"] == state["version"]
    assert expression(clients, backend, schedule) in (
        "cron(0 5 12 6 ? 2026)", "at(2026-06-12T05:00:00)")


@pytest.mark.parametrize("backend", ["rules", "scheduler"])
def test_a_run_delivered_after_an_edit_keeps_the_edited_mirror(
    backend, settings, clients, make_schedule, home, lamp, committed
):
    settings.SCHEDULE_BACKEND = backend
    with committed(CREATED):
        schedule = make_schedule()
    event = delivered(clients, backend, schedule, FIRST)
    # The owner moves it to 09:00 in the seconds between the fire and the Lambda:
    raw = {**actions.data_from_schedule(schedule), "run_time": dt.time(9, 0)}
    with committed(FIRST + dt.timedelta(seconds=1)):
        actions.do_update_schedule(schedule, actions.clean_schedule(home, raw))
    edited = expression(clients, backend, schedule)

    result = fresh_handler_module().handler(event, None, now=FIRST + dt.timedelta(seconds=2),
                                            **clients)

    # the 07:00 run (which did happen) sets its state, and the mirror keeps the edit's run.
    assert result["status"] == "ok"
    assert expression(clients, backend, schedule) == edited
    assert edited in ("cron(0 7 11 6 ? 2026)", "at(2026-06-11T07:00:00)")
    assert delivered(clients, backend, schedule, FIRST)["done"] == "2026-06-11T05:00:00Z"


def test_the_last_run_of_a_one_off_deletes_its_rule(settings, clients, make_schedule, committed):
    settings.SCHEDULE_BACKEND = "rules"
    with committed(CREATED):
        schedule = make_schedule(trigger="once", run_date=dt.date(2026, 6, 11),
                                 run_time=dt.time(7, 0), weekdays=[])
    event = delivered(clients, "rules", schedule, FIRST)
    result = fresh_handler_module().handler(event, None, now=FIRST + dt.timedelta(seconds=2),
                                            **clients)
    assert result["status"] == "ok" and result["next"] is None
    assert clients["events"].list_rules(NamePrefix="smartlight-")["Rules"] == []
    again = fresh_handler_module().handler(event, None, now=FIRST + dt.timedelta(minutes=1),
                                           **clients)
    assert again["status"] == "gone"


def test_an_event_naming_another_schedules_resource_is_refused(
    settings, clients, make_schedule, committed
):
    settings.SCHEDULE_BACKEND = "rules"
    with committed(CREATED):
        schedule = make_schedule()
    event = delivered(clients, "rules", schedule, FIRST)
    event["mirror"]["name"] = "smartlight-00000000-0000-0000-0000-000000000000"
    result = fresh_handler_module().handler(event, None, now=FIRST, **clients)
    assert result["status"] == "invalid"
    assert "the schedule's own resource" in result["error"]
