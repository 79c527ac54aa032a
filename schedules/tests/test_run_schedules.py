"""manage.py run_schedules: fires due schedules through the Lambda handler, exactly once."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import call_command

from schedules import actions
from schedules.models import Schedule
from schedules.runner import Runner

UTC = dt.UTC
# Monday 15 June 2026; weekdays 07:00 Europe/Berlin (CEST) is 05:00 UTC.
CREATED = dt.datetime(2026, 6, 15, 4, 0, tzinfo=UTC)
DUE = dt.datetime(2026, 6, 15, 5, 0, tzinfo=UTC)


@pytest.fixture
def iot_data(aws, lamp, strip):
    aws.client("iot").create_thing(thingName=lamp.thing_name)
    return aws.client("iot-data")


def desired_of(iot_data, thing: str) -> dict:
    document = json.loads(iot_data.get_thing_shadow(thingName=thing)["payload"].read())
    return document["state"].get("desired", {})


def runner_at(iot_data, when: dt.datetime) -> Runner:
    return Runner(iot_data=iot_data, clock=lambda: when)


@pytest.fixture
def wake_up(make_schedule):
    schedule = make_schedule(now=CREATED)
    assert schedule.next_run == DUE
    return schedule


def test_it_fires_a_due_schedule_and_records_the_run(iot_data, wake_up, lamp):
    results = runner_at(iot_data, DUE + dt.timedelta(seconds=20)).tick()
    assert [r["status"] for r in results] == ["ok"]
    assert desired_of(iot_data, lamp.thing_name) == {
        "on": True,
        "brightness": 255,
        "transition_ms": 900000,
    }
    wake_up.refresh_from_db()
    assert wake_up.last_run == DUE
    assert wake_up.last_result == {
        "status": "ok",
        "fire_time": "2026-06-15T05:00:00Z",
        "ok": [lamp.thing_name],
        "failed": [],
    }
    assert wake_up.next_run == DUE + dt.timedelta(days=1)


def test_it_does_not_fire_before_the_time(iot_data, wake_up):
    assert runner_at(iot_data, DUE - dt.timedelta(seconds=1)).tick() == []
    wake_up.refresh_from_db()
    assert wake_up.last_run is None


def test_it_never_fires_the_same_run_twice(iot_data, wake_up):
    runner = runner_at(iot_data, DUE + dt.timedelta(seconds=5))
    assert len(runner.tick()) == 1
    assert runner.tick() == []
    assert runner_at(iot_data, DUE + dt.timedelta(seconds=50)).tick() == []


def test_a_run_claimed_by_another_runner_is_passed_over(iot_data, wake_up):
    now = DUE + dt.timedelta(seconds=5)
    slow, fast = runner_at(iot_data, now), runner_at(iot_data, now)
    seen = list(slow.due(now))  # the slow runner has read the due row ...
    assert len(fast.tick()) == 1  # ... the fast one claims and fires it ...
    assert slow._claim_rows(seen, now) == []  # ... so the slow one's claim loses.


def test_it_catches_up_a_run_missed_within_five_minutes(iot_data, wake_up, lamp):
    results = runner_at(iot_data, DUE + dt.timedelta(minutes=4, seconds=59)).tick()
    assert [r["fire_time"] for r in results] == ["2026-06-15T05:00:00Z"]
    assert desired_of(iot_data, lamp.thing_name)["on"] is True


def test_it_skips_a_run_missed_by_more_than_five_minutes(iot_data, wake_up, lamp):
    results = runner_at(iot_data, DUE + dt.timedelta(minutes=5, seconds=1)).tick()
    assert [r["status"] for r in results] == ["skipped"]
    with pytest.raises(iot_data.exceptions.ResourceNotFoundException):
        desired_of(iot_data, lamp.thing_name)
    wake_up.refresh_from_db()
    assert wake_up.last_run is None
    assert wake_up.last_result["status"] == "skipped"
    assert wake_up.next_run == DUE + dt.timedelta(days=1)


def test_after_downtime_a_frequent_cron_fires_once_for_the_latest_missed_run(
    iot_data, make_schedule
):
    schedule = make_schedule(
        now=CREATED, trigger="cron", run_time=None, weekdays=[], cron="* * * * *"
    )
    results = runner_at(iot_data, CREATED + dt.timedelta(minutes=12, seconds=30)).tick()
    assert [r["fire_time"] for r in results] == ["2026-06-15T04:12:00Z"]
    schedule.refresh_from_db()
    assert schedule.next_run == CREATED + dt.timedelta(minutes=13)


def test_a_disabled_schedule_does_not_fire(iot_data, wake_up):
    actions.do_set_enabled(wake_up, False, now=CREATED)
    assert runner_at(iot_data, DUE + dt.timedelta(seconds=5)).tick() == []


def test_a_one_off_fires_once_and_has_no_next_run(iot_data, make_schedule):
    schedule = make_schedule(
        now=CREATED,
        trigger="once",
        run_date=dt.date(2026, 6, 15),
        run_time=dt.time(8, 0),
        weekdays=[],
    )
    assert len(runner_at(iot_data, DUE + dt.timedelta(hours=1)).tick()) == 1
    schedule.refresh_from_db()
    assert schedule.next_run is None
    assert schedule.last_result["status"] == "ok"


def test_a_light_that_cannot_be_written_is_recorded_as_failed(iot_data, make_schedule, strip):
    # The strip is not registered in moto's IoT registry, so its shadow write fails.
    schedule = make_schedule(now=CREATED, devices=[str(strip.code)])
    runner_at(iot_data, DUE).tick()
    schedule.refresh_from_db()
    assert schedule.last_result["status"] == "failed"
    assert [f["thing"] for f in schedule.last_result["failed"]] == [strip.thing_name]


def test_the_command_runs_one_tick_at_the_given_time(iot_data, wake_up, capsys):
    call_command("run_schedules", "--once", "--now", "2026-06-15T05:00:30+00:00")
    line = json.loads(capsys.readouterr().out.strip())
    assert line["schedule"] == str(wake_up.code)
    assert line["status"] == "ok"
    assert Schedule.objects.get(pk=wake_up.pk).last_run == DUE


def test_the_command_refuses_a_time_without_an_offset(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="UTC offset"):
        call_command("run_schedules", "--once", "--now", "2026-06-15T05:00:30")
