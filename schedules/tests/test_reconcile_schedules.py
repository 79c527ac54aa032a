"""manage.py reconcile_schedules: lists drift between the database and EventBridge; --fix."""

from __future__ import annotations

import json
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from schedules.models import MirrorOutbox, Schedule


@pytest.fixture
def synced(aws, settings, make_schedule, django_capture_on_commit_callbacks):
    settings.SCHEDULE_BACKEND = "rules"
    with django_capture_on_commit_callbacks(execute=True):
        return make_schedule()


def run(capsys, *args) -> str:
    call_command("reconcile_schedules", *args)
    return capsys.readouterr().out


def test_it_reports_no_drift_when_aws_matches(synced, capsys):
    assert run(capsys).strip() == "no drift"


def test_it_lists_a_missing_rule_an_orphan_and_a_changed_target(synced, aws, capsys, lamp):
    events = aws.client("events")
    orphan = str(uuid.uuid4())
    events.put_rule(Name=f"smartlight-{orphan}", ScheduleExpression="cron(0 1 * * ? *)")
    changed = Schedule.objects.get()
    missing = Schedule.objects.create(home=changed.home, name="Never pushed", trigger="weekly")
    events.put_targets(
        Rule=f"smartlight-{changed.code}",
        Targets=[
            {
                "Id": "schedule-lambda",
                "Arn": "arn:aws:lambda:us-east-1:1:function:x",
                "Input": json.dumps({"schedule": str(changed.code)}),
            }
        ],
    )

    out = run(capsys)

    assert f"{orphan}: in AWS but not in the database" in out
    assert f"{changed.code}: differs: input" in out
    assert f"{missing.code}" not in out  # incomplete: no future run, so nothing should exist
    assert "2 drifting (run with --fix to repair)" in out


def test_fix_repairs_the_drift_and_clears_the_outbox(synced, aws, capsys):
    events = aws.client("events")
    orphan = str(uuid.uuid4())
    events.put_rule(Name=f"smartlight-{orphan}", ScheduleExpression="cron(0 1 * * ? *)")
    schedule = Schedule.objects.get()
    events.disable_rule(Name=f"smartlight-{schedule.code}")
    MirrorOutbox.objects.create(code=schedule.code)

    out = run(capsys, "--fix")

    assert "fixed 2 of 2" in out
    assert out.strip().endswith("no drift")
    assert events.describe_rule(Name=f"smartlight-{schedule.code}")["State"] == "ENABLED"
    assert events.list_rules(NamePrefix=f"smartlight-{orphan}")["Rules"] == []
    assert not MirrorOutbox.objects.exists()


def test_fix_fails_loudly_when_aws_keeps_refusing(synced, aws, capsys, monkeypatch):
    from botocore.exceptions import ClientError

    from schedules.management.commands.reconcile_schedules import Command

    events = aws.client("events")
    events.disable_rule(Name=f"smartlight-{Schedule.objects.get().code}")

    def refuse(**_):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutRule")

    monkeypatch.setattr(events, "put_rule", refuse)
    monkeypatch.setattr(Command, "backoff_base", 0.0)
    monkeypatch.setattr(Command, "fix_attempts", 2)
    with pytest.raises(CommandError, match="1 schedules still drift"):
        call_command("reconcile_schedules", "--fix")


def test_it_reconciles_the_scheduler_backend_too(
    aws, settings, make_schedule, django_capture_on_commit_callbacks, capsys
):
    settings.SCHEDULE_BACKEND = "scheduler"
    with django_capture_on_commit_callbacks(execute=True):
        schedule = make_schedule()
    scheduler = aws.client("scheduler")
    scheduler.delete_schedule(Name=f"smartlight-{schedule.code}", GroupName="default")

    assert f"{schedule.code}: missing in AWS" in run(capsys)
    assert run(capsys, "--fix").strip().endswith("no drift")
    assert scheduler.get_schedule(Name=f"smartlight-{schedule.code}", GroupName="default")
