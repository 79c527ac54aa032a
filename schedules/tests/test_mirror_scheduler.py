"""The `scheduler` backend: EventBridge Scheduler with the home's time zone, at() for one-offs."""

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


def test_it_writes_a_cron_in_the_homes_time_zone(
    scheduler, make_schedule, settings, django_capture_on_commit_callbacks, committed
):
    with committed(dt.datetime(2026, 6, 10, 12, tzinfo=UTC)):
        schedule = make_schedule()
    found = get(scheduler, schedule)
    assert found["ScheduleExpression"] == "cron(0 7 ? * MON,TUE,WED,THU,FRI *)"
    assert found["ScheduleExpressionTimezone"] == "Europe/Berlin"
    assert found["State"] == "ENABLED"
    assert found["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert found["Target"]["Arn"] == settings.SCHEDULE_LAMBDA_ARN
    assert found["Target"]["RoleArn"] == settings.SCHEDULER_ROLE_ARN
    assert json.loads(found["Target"]["Input"]) == {
        "schedule": str(schedule.code),
        "things": ["sl-0000000000b1"],
        "desired": {"on": True, "brightness": 255, "transition_ms": 900000},
        "time": "<aws.scheduler.scheduled-time>",
    }


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


def test_a_cron_on_month_days_keeps_the_weekday_field_open(
    scheduler, make_schedule, django_capture_on_commit_callbacks, committed
):
    with django_capture_on_commit_callbacks(execute=True):
        schedule = make_schedule(trigger="cron", run_time=None, weekdays=[], cron="30 6 1,15 * *")
    assert get(scheduler, schedule)["ScheduleExpression"] == "cron(30 6 1,15 * ? *)"


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


def test_a_sun_schedule_is_an_at_expression_repointed_after_it_fires(
    scheduler, home, make_schedule, committed
):
    from schedules import tasks

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

    with committed(first + dt.timedelta(minutes=1)):
        assert tasks.repoint_schedule_mirrors() == 1
    second = get(scheduler, schedule)["ScheduleExpression"]
    assert second.startswith("at(2026-06-12T09:")
