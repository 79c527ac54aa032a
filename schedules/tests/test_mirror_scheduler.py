"""The `scheduler` backend: an EventBridge Scheduler one-time schedule, `at()` in UTC for the
schedule's next run, re-pointed by the Lambda after each run."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from schedules import actions

UTC = dt.UTC


@pytest.fixture
def scheduler(aws, settings):
    settings.SCHEDULE_BACKEND = "scheduler"
    return aws.client("scheduler")


def get(scheduler, schedule) -> dict:
    return scheduler.get_schedule(Name=f"smartlight-{schedule.code}", GroupName="default")


def test_it_writes_the_next_run_as_an_at_expression_in_utc(
    scheduler, make_schedule, settings, django_capture_on_commit_callbacks, committed
):
    with committed(dt.datetime(2026, 6, 10, 12, tzinfo=UTC)):
        schedule = make_schedule()
    found = get(scheduler, schedule)
    # Weekdays 07:00 Europe/Berlin: Thursday 11 June 07:00 CEST is 05:00 UTC.
    assert found["ScheduleExpression"] == "at(2026-06-11T05:00:00)"
    assert found["ScheduleExpressionTimezone"] == "UTC"
    assert found["State"] == "ENABLED"
    assert found["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert found["Target"]["Arn"] == settings.SCHEDULE_LAMBDA_ARN
    assert found["Target"]["RoleArn"] == settings.SCHEDULER_ROLE_ARN
    assert json.loads(found["Target"]["Input"]) == {
        "schedule": str(schedule.code),
        "things": ["sl-0000000000b1"],
        "desired": {"on": True, "brightness": 255, "transition_ms": 900000},
        "trigger": {"kind": "weekly", "tz": "Europe/Berlin", "time": "07:00",
                    "weekdays": [0, 1, 2, 3, 4]},
        "at": "2026-06-11T05:00:00Z",
        "mirror": {"backend": "scheduler", "name": f"smartlight-{schedule.code}"},
        "time": "<aws.scheduler.scheduled-time>",
    }


def test_a_time_in_the_spring_forward_gap_is_written_as_the_instant_it_runs(
    scheduler, make_schedule, django_capture_on_commit_callbacks, committed
):
    # 02:30 does not exist in Berlin on 29 March 2026; it runs at 03:30 CEST (01:30 UTC),
    # which an at() in UTC says without Scheduler's skip rule for local times.
    with committed(dt.datetime(2026, 3, 28, 12, tzinfo=UTC)):
        schedule = make_schedule(run_time=dt.time(2, 30), weekdays=[6])
    assert get(scheduler, schedule)["ScheduleExpression"] == "at(2026-03-29T01:30:00)"


def test_a_one_off_becomes_an_at_expression_in_utc(
    scheduler, make_schedule, django_capture_on_commit_callbacks, committed
):
    with committed(dt.datetime(2026, 6, 10, 12, tzinfo=UTC)):
        schedule = make_schedule(
            trigger="once",
            run_date=dt.date(2026, 12, 24),
            run_time=dt.time(18, 0),
            weekdays=[],
        )
    found = get(scheduler, schedule)
    assert found["ScheduleExpression"] == "at(2026-12-24T17:00:00)"
    assert found["ScheduleExpressionTimezone"] == "UTC"


def test_disable_and_delete_reach_the_scheduler(
    scheduler, make_schedule, django_capture_on_commit_callbacks, committed
):
    with django_capture_on_commit_callbacks(execute=True):
        schedule = make_schedule()
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_set_enabled(schedule, False)
    assert get(scheduler, schedule)["State"] == "DISABLED"
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_delete_schedule(schedule)
    assert scheduler.list_schedules(NamePrefix="smartlight-")["Schedules"] == []


def test_a_sun_schedule_is_an_at_expression_for_its_next_run(
    scheduler, home, make_schedule, committed
):
    home.latitude, home.longitude = 40.71, -74.01
    home.timezone = "America/New_York"
    home.save()
    with committed(dt.datetime(2026, 6, 10, 12, tzinfo=UTC)):
        schedule = make_schedule(trigger="sunrise", run_time=None, weekdays=[])
    schedule.refresh_from_db()
    first = schedule.next_run
    found = get(scheduler, schedule)
    assert found["ScheduleExpression"] == f"at({first:%Y-%m-%dT%H:%M:%S})"
    assert found["ScheduleExpressionTimezone"] == "UTC"
    assert first.date() == dt.date(2026, 6, 11)  # New York sunrise is ~09:25 UTC
