"""The `rules` backend: one EventBridge rule per schedule, pointed at the schedule's next run by a
one-minute UTC cron with the full date, and the Lambda target."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
import time_machine

from schedules import actions, mirror, tasks
from schedules.models import MirrorOutbox, Schedule
from smartlight import outbox

UTC = dt.UTC


@pytest.fixture
def events(aws, settings):
    settings.SCHEDULE_BACKEND = "rules"
    return aws.client("events")


def rule_of(events, schedule) -> tuple[dict, list[dict]]:
    name = f"smartlight-{schedule.code}"
    return events.describe_rule(Name=name), events.list_targets_by_rule(Rule=name)["Targets"]


def test_it_points_the_rule_at_the_next_run_with_the_definition_in_the_input(
    events, make_schedule, lamp, settings, django_capture_on_commit_callbacks, committed
):
    with committed(dt.datetime(2026, 6, 10, 12, tzinfo=UTC)):
        schedule = make_schedule()
    rule, targets = rule_of(events, schedule)
    # Weekdays 07:00 Europe/Berlin; the next is Thursday 11 June, 07:00 CEST = 05:00 UTC.
    assert rule["ScheduleExpression"] == "cron(0 5 11 6 ? 2026)"
    assert rule["State"] == "ENABLED"
    assert [(t["Id"], t["Arn"]) for t in targets] == [
        ("schedule-lambda", settings.SCHEDULE_LAMBDA_ARN)
    ]
    assert targets[0]["Input"] == json.dumps(
        {
            "at": "2026-06-11T05:00:00Z",
            "desired": {"brightness": 255, "on": True, "transition_ms": 900000},
            "mirror": {"backend": "rules", "name": f"smartlight-{schedule.code}"},
            "schedule": str(schedule.code),
            "things": ["sl-0000000000b1"],
            "trigger": {"kind": "weekly", "time": "07:00", "tz": "Europe/Berlin",
                        "weekdays": [0, 1, 2, 3, 4]},
        },
        separators=(",", ":"),
        sort_keys=True,
    )
    assert not MirrorOutbox.objects.exists()
    schedule.refresh_from_db()
    assert schedule.mirror_expression == rule["ScheduleExpression"]
    assert schedule.mirror_points_at == dt.datetime(2026, 6, 11, 5, tzinfo=UTC)


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
    payload = json.loads(targets[0]["Input"])
    assert payload["things"] == ["sl-0000000000b1", "sl-0000000000b2"]
    assert payload["desired"] == {}
    assert payload["states"] == {
        "sl-0000000000b1": {"on": True, "brightness": 80, "color": "#ff8800"},
        "sl-0000000000b2": {"on": False},
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
    # Read first (the push writes only what differs), then targets before the rule.
    assert calls == ["DescribeRule", "ListTargetsByRule", "ListTargetsByRule", "RemoveTargets",
                     "DeleteRule"]
    assert events.list_rules(NamePrefix="smartlight-")["Rules"] == []
    assert not MirrorOutbox.objects.exists()


def test_across_the_autumn_change_the_rule_points_at_the_local_time(
    events, make_schedule, django_capture_on_commit_callbacks, committed
):
    # Friday 23 October 07:00 CEST is 05:00 UTC; after the change on Sunday 25th, Monday 26th
    # 07:00 CET is 06:00 UTC. Each is the next run when the rule is written.
    with committed(dt.datetime(2026, 10, 22, 12, tzinfo=UTC)):
        schedule = make_schedule()
    assert rule_of(events, schedule)[0]["ScheduleExpression"] == "cron(0 5 23 10 ? 2026)"
    with committed(dt.datetime(2026, 10, 23, 12, tzinfo=UTC)):
        assert mirror.push(str(schedule.code)) == "written"
    assert rule_of(events, schedule)[0]["ScheduleExpression"] == "cron(0 6 26 10 ? 2026)"


def test_a_time_near_midnight_moves_to_the_previous_utc_day(
    events, make_schedule, django_capture_on_commit_callbacks, committed
):
    with committed(dt.datetime(2026, 6, 10, 12, tzinfo=UTC)):
        schedule = make_schedule(run_time=dt.time(0, 30), weekdays=[0])  # Monday 00:30
    # Monday 15 June 00:30 CEST is Sunday 14 June 22:30 UTC.
    assert rule_of(events, schedule)[0]["ScheduleExpression"] == "cron(30 22 14 6 ? 2026)"


def test_a_sun_schedule_points_at_its_next_run(
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
    assert schedule.mirror_points_at == first


def test_pushing_an_unchanged_schedule_writes_nothing(
    events, make_schedule, django_capture_on_commit_callbacks, committed
):
    with committed(dt.datetime(2026, 6, 10, 12, tzinfo=UTC)):
        schedule = make_schedule()
    calls: list[str] = []
    events.meta.events.register("before-call.events.*", lambda model, **_: calls.append(model.name))
    with time_machine.travel(dt.datetime(2026, 6, 10, 13, tzinfo=UTC), tick=False):
        assert mirror.push(str(schedule.code)) == "unchanged"
    assert calls == ["DescribeRule", "ListTargetsByRule"]


def test_a_run_in_flight_is_not_skipped_by_a_push_in_its_minute(
    events, make_schedule, django_capture_on_commit_callbacks, committed
):
    # The rule points at 05:00 UTC; at 05:00:20 EventBridge may still be delivering it.
    with committed(dt.datetime(2026, 6, 10, 12, tzinfo=UTC)):
        schedule = make_schedule()
    with time_machine.travel(dt.datetime(2026, 6, 11, 5, 0, 20, tzinfo=UTC), tick=False):
        mirror.push(str(schedule.code))
    assert rule_of(events, schedule)[0]["ScheduleExpression"] == "cron(0 5 11 6 ? 2026)"
    # Two minutes later the Lambda should have moved it; a push does it if it did not.
    with time_machine.travel(dt.datetime(2026, 6, 11, 5, 2, tzinfo=UTC), tick=False):
        mirror.push(str(schedule.code))
    assert rule_of(events, schedule)[0]["ScheduleExpression"] == "cron(0 5 12 6 ? 2026)"


def test_a_mirror_the_lambda_did_not_repoint_is_repaired(
    events, make_schedule, django_capture_on_commit_callbacks, committed
):
    with committed(dt.datetime(2026, 6, 10, 12, tzinfo=UTC)):
        schedule = make_schedule()
    with committed(dt.datetime(2026, 6, 11, 5, 9, tzinfo=UTC)):
        assert tasks.repair_stalled_mirrors() == 0  # not yet 10 minutes past its run
    with committed(dt.datetime(2026, 6, 11, 5, 11, tzinfo=UTC)):
        assert tasks.repair_stalled_mirrors() == 1
    assert rule_of(events, schedule)[0]["ScheduleExpression"] == "cron(0 5 12 6 ? 2026)"
    schedule.refresh_from_db()
    assert schedule.mirror_points_at == dt.datetime(2026, 6, 12, 5, tzinfo=UTC)


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
    caplog.set_level(logging.WARNING, logger="schedules.actions")
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
    assert entry.attempts == actions.EAGER_ATTEMPTS
    assert "down" in entry.last_error

    monkeypatch.undo()
    assert outbox.flush(actions.MIRROR) == 0
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
