"""The `rules` backend: one EventBridge rule per schedule with a UTC cron and the Lambda target."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
import time_machine

from schedules import actions, mirror, tasks
from schedules.models import MirrorOutbox, Schedule

UTC = dt.UTC


@pytest.fixture
def events(aws, settings):
    settings.SCHEDULE_BACKEND = "rules"
    return aws.client("events")


def rule_of(events, schedule) -> tuple[dict, list[dict]]:
    name = f"smartlight-{schedule.code}"
    return events.describe_rule(Name=name), events.list_targets_by_rule(Rule=name)["Targets"]


def test_it_writes_the_rule_and_the_lambda_target_with_the_design_input(
    events, make_schedule, lamp, settings, django_capture_on_commit_callbacks, committed
):
    with committed(dt.datetime(2026, 6, 10, 12, tzinfo=UTC)):
        schedule = make_schedule()
    rule, targets = rule_of(events, schedule)
    # Weekdays 07:00 Europe/Berlin in summer (CEST, UTC+2) is 05:00 UTC.
    assert rule["ScheduleExpression"] == "cron(0 5 ? * MON,TUE,WED,THU,FRI *)"
    assert rule["State"] == "ENABLED"
    assert targets == [
        {
            "Id": "schedule-lambda",
            "Arn": settings.SCHEDULE_LAMBDA_ARN,
            "Input": json.dumps(
                {
                    "desired": {"brightness": 255, "on": True, "transition_ms": 900000},
                    "schedule": str(schedule.code),
                    "things": ["sl-0000000000b1"],
                },
                separators=(",", ":"),
                sort_keys=True,
            ),
        }
    ]
    assert not MirrorOutbox.objects.exists()
    schedule.refresh_from_db()
    assert schedule.mirror_expression == rule["ScheduleExpression"]


def test_a_room_target_sends_every_light_of_the_room(
    events, make_schedule, lamp, room, home, django_capture_on_commit_callbacks, committed
):
    from devices.models import Device

    Device.objects.create(home=home, room=room, name="Reading", thing_name="sl-0000000000b3")
    with django_capture_on_commit_callbacks(execute=True):
        schedule = make_schedule(devices=[], rooms=[str(room.code)])
    _, targets = rule_of(events, schedule)
    assert json.loads(targets[0]["Input"])["things"] == ["sl-0000000000b1", "sl-0000000000b3"]


def test_a_scene_schedule_sends_each_lights_state(
    events, make_schedule, scene, django_capture_on_commit_callbacks, committed
):
    with django_capture_on_commit_callbacks(execute=True):
        schedule = make_schedule(devices=[], desired={}, scene=str(scene.code))
    _, targets = rule_of(events, schedule)
    assert json.loads(targets[0]["Input"]) == {
        "schedule": str(schedule.code),
        "things": ["sl-0000000000b1", "sl-0000000000b2"],
        "desired": {},
        "states": {
            "sl-0000000000b1": {"on": True, "brightness": 80, "color": "#ff8800"},
            "sl-0000000000b2": {"on": False},
        },
    }


def test_disabling_keeps_the_rule_but_disables_it(
    events, make_schedule, django_capture_on_commit_callbacks, committed
):
    with django_capture_on_commit_callbacks(execute=True):
        schedule = make_schedule()
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_set_enabled(schedule, False)
    assert rule_of(events, schedule)[0]["State"] == "DISABLED"


def test_delete_removes_the_targets_then_the_rule(
    events, make_schedule, django_capture_on_commit_callbacks, committed
):
    with django_capture_on_commit_callbacks(execute=True):
        schedule = make_schedule()
    calls: list[str] = []
    events.meta.events.register("before-call.events.*", lambda model, **_: calls.append(model.name))
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_delete_schedule(schedule)
    assert calls == ["ListTargetsByRule", "RemoveTargets", "DeleteRule"]
    assert events.list_rules(NamePrefix="smartlight-")["Rules"] == []
    assert not MirrorOutbox.objects.exists()


def test_the_rule_is_rewritten_before_the_first_run_after_the_autumn_change(
    events, make_schedule, django_capture_on_commit_callbacks, committed
):
    with committed(dt.datetime(2026, 10, 20, 12, tzinfo=UTC)):
        schedule = make_schedule()
    schedule.refresh_from_db()
    assert rule_of(events, schedule)[0]["ScheduleExpression"] == (
        "cron(0 5 ? * MON,TUE,WED,THU,FRI *)"
    )
    # The last run at UTC+2 is Friday 23 October 07:00 CEST (05:00 UTC), the first at UTC+1
    # Monday 26th 07:00 CET (06:00 UTC): the rewrite falls between them, 3 h before the change
    # at 01:00 UTC on Sunday 25th.
    assert schedule.mirror_repoint_after == dt.datetime(2026, 10, 24, 22, tzinfo=UTC)

    with time_machine.travel(dt.datetime(2026, 10, 24, 21, 59, tzinfo=UTC), tick=False):
        assert tasks.repoint_schedule_mirrors() == 0
    with committed(dt.datetime(2026, 10, 24, 22, 1, tzinfo=UTC)):
        assert tasks.repoint_schedule_mirrors() == 1
    assert rule_of(events, schedule)[0]["ScheduleExpression"] == (
        "cron(0 6 ? * MON,TUE,WED,THU,FRI *)"
    )
    schedule.refresh_from_db()
    assert schedule.mirror_repoint_after == dt.datetime(2027, 3, 27, 22, tzinfo=UTC)


def test_a_time_near_midnight_moves_to_the_previous_utc_day(
    events, make_schedule, django_capture_on_commit_callbacks, committed
):
    with committed(dt.datetime(2026, 6, 10, 12, tzinfo=UTC)):
        schedule = make_schedule(run_time=dt.time(0, 30), weekdays=[0])  # Monday 00:30
    assert rule_of(events, schedule)[0]["ScheduleExpression"] == "cron(30 22 ? * SUN *)"


def test_a_sun_schedule_is_pinned_to_its_next_run_and_repointed_after_it(
    events, home, make_schedule, django_capture_on_commit_callbacks, committed
):
    home.latitude, home.longitude = 52.52, 13.405
    home.save()
    with committed(dt.datetime(2026, 6, 10, 12, tzinfo=UTC)):
        schedule = make_schedule(trigger="sunset", run_time=None, weekdays=[], offset_minutes=-15)
    schedule.refresh_from_db()
    first = schedule.next_run
    assert first.date() == dt.date(2026, 6, 10)
    expected = f"cron({first.minute} {first.hour} 10 6 ? 2026)"
    assert rule_of(events, schedule)[0]["ScheduleExpression"] == expected
    assert schedule.mirror_repoint_after == first

    with committed(first + dt.timedelta(minutes=1)):
        assert tasks.repoint_schedule_mirrors() == 1
    expression = rule_of(events, schedule)[0]["ScheduleExpression"]
    assert expression.endswith(" 11 6 ? 2026)")


def test_a_weekly_cron_expression_becomes_a_utc_cron(
    events, make_schedule, django_capture_on_commit_callbacks, committed
):
    with committed(dt.datetime(2026, 1, 10, tzinfo=UTC)):
        schedule = make_schedule(
            trigger="cron", run_time=None, weekdays=[], cron="*/15 6-8 * * 1-5"
        )
    assert rule_of(events, schedule)[0]["ScheduleExpression"] == (
        "cron(0,15,30,45 5-7 ? * MON,TUE,WED,THU,FRI *)"
    )


def test_a_cron_on_days_of_the_month_is_pinned_to_its_next_run(
    events, make_schedule, django_capture_on_commit_callbacks, committed
):
    with committed(dt.datetime(2026, 1, 10, tzinfo=UTC)):
        schedule = make_schedule(trigger="cron", run_time=None, weekdays=[], cron="0 8 1 * *")
    # 1 February 08:00 CET = 07:00 UTC.
    assert rule_of(events, schedule)[0]["ScheduleExpression"] == "cron(0 7 1 2 ? 2026)"


def test_it_warns_as_the_rules_quota_nears(
    events, make_schedule, settings, caplog, django_capture_on_commit_callbacks, committed
):
    settings.SCHEDULE_RULES_QUOTA = 5
    caplog.set_level(logging.WARNING, logger="schedules.tasks")
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            make_schedule(name=f"S{n}")
    assert mirror.quota_status() is None
    with django_capture_on_commit_callbacks(execute=True):
        make_schedule(name="S4")
    assert "4 of 5 EventBridge rules" in mirror.quota_status()
    assert any("4 of 5 EventBridge rules" in r.message for r in caplog.records)


def test_a_failing_aws_call_keeps_the_change_in_the_outbox(
    events, make_schedule, monkeypatch, django_capture_on_commit_callbacks, committed
):
    from botocore.exceptions import ClientError

    def refuse(**_):
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "PutRule")

    monkeypatch.setattr(events, "put_rule", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        schedule = make_schedule()
    assert Schedule.objects.filter(code=schedule.code).exists()
    entry = MirrorOutbox.objects.get(code=schedule.code)
    assert entry.attempts == tasks.EAGER_ATTEMPTS
    assert "down" in entry.last_error

    monkeypatch.undo()
    assert tasks.flush_schedule_outbox() == 0
    assert rule_of(events, schedule)[0]["State"] == "ENABLED"


def test_in_aws_mode_due_runs_are_advanced_past_for_eventbridge(events, make_schedule, settings):
    from django.utils import timezone

    created = dt.datetime(2026, 6, 15, 4, tzinfo=UTC)
    schedule = make_schedule(now=created)
    with time_machine.travel(dt.datetime(2026, 6, 15, 5, 0, 20, tzinfo=UTC), tick=False):
        assert timezone.now() > schedule.next_run
        assert tasks.advance_fired_schedules() == 1
        assert tasks.advance_fired_schedules() == 0
    schedule.refresh_from_db()
    assert schedule.last_run == dt.datetime(2026, 6, 15, 5, tzinfo=UTC)
    assert schedule.next_run == dt.datetime(2026, 6, 16, 5, tzinfo=UTC)
    assert schedule.last_result == {"status": "sent", "by": "rules"}


def test_locally_the_runner_not_the_task_advances_runs(make_schedule, settings):
    settings.AWS_MODE = "local"
    make_schedule(now=dt.datetime(2026, 6, 15, 4, tzinfo=UTC))
    with time_machine.travel(dt.datetime(2026, 6, 15, 5, 0, 20, tzinfo=UTC), tick=False):
        assert tasks.advance_fired_schedules() == 0
