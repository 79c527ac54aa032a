"""EventBridge failing 30 % of calls over 500 changes ends with zero drift after the retries and
reconcile_schedules --fix."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from botocore.exceptions import ClientError
from django.core.management import call_command

from schedules import actions, mirror
from schedules.management.commands.reconcile_schedules import Command
from schedules.models import MirrorOutbox, Schedule


class Flaky:
    """A boto3 client whose API calls fail at `rate` with a retryable AWS error."""

    def __init__(self, client, rng: random.Random, rate: float) -> None:
        self._client = client
        self._rng = rng
        self.rate = rate
        self.calls = 0
        self.failures = 0

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if name in ("meta", "exceptions", "get_paginator") or not callable(attr):
            return attr

        def call(*args, **kwargs):
            self.calls += 1
            if self._rng.random() < self.rate:
                self.failures += 1
                raise ClientError(
                    {"Error": {"Code": "ThrottlingException", "Message": "injected"}}, name
                )
            return attr(*args, **kwargs)

        return call


@pytest.fixture
def flaky_events(aws, settings, monkeypatch):
    settings.SCHEDULE_BACKEND = "rules"
    real = aws.client("events")
    flaky = Flaky(real, random.Random(6), 0.3)
    original = aws.client

    def client(service: str):
        return flaky if service == "events" else original(service)

    monkeypatch.setattr(aws, "client", client)
    return flaky, real


def test_thirty_percent_failures_over_500_changes_end_with_zero_drift(
    flaky_events, home, lamp, strip, django_capture_on_commit_callbacks, capsys, monkeypatch
):
    flaky, real = flaky_events
    rng = random.Random(42)
    live: list[Schedule] = []
    changes = 0

    def change(fn, *args):
        nonlocal changes
        with django_capture_on_commit_callbacks(execute=True):
            result = fn(*args)
        changes += 1
        return result

    def create(n: int) -> Schedule:
        raw = {
            "name": f"Schedule {n}",
            "trigger": "weekly",
            "run_time": dt.time(rng.randrange(24), rng.randrange(0, 60, 5)),
            "weekdays": sorted(rng.sample(range(7), rng.randrange(1, 8))),
            "devices": [str(rng.choice([lamp, strip]).code)],
            "desired": {"on": True, "brightness": rng.randrange(256)},
        }
        return change(actions.do_create_schedule, home, actions.clean_schedule(home, raw))

    # Given 100 schedules and then 400 edits, toggles and deletes (with re-creations),
    for n in range(100):
        live.append(create(n))
    while changes < 500:
        schedule = rng.choice(live)
        roll = rng.random()
        if roll < 0.4:
            raw = actions.data_from_schedule(schedule)
            raw["run_time"] = dt.time(rng.randrange(24), rng.randrange(60))
            raw["desired"] = {"on": rng.random() < 0.5}
            change(actions.do_update_schedule, schedule, actions.clean_schedule(home, raw))
        elif roll < 0.75:
            change(actions.do_set_enabled, schedule, not schedule.enabled)
        else:
            live.remove(schedule)
            change(actions.do_delete_schedule, schedule)
            live.append(create(changes))

    # while EventBridge refused 30 % of the calls,
    assert changes >= 500
    assert 0.25 < flaky.failures / flaky.calls < 0.35
    pending_after_retries = MirrorOutbox.objects.count()

    # when reconcile_schedules --fix runs (still against the flaky EventBridge),
    monkeypatch.setattr(Command, "backoff_base", 0.0)  # no sleeping in the test
    call_command("reconcile_schedules", "--fix")

    # then AWS holds exactly what the database says: nothing drifts, nothing is left over.
    flaky.rate = 0.0
    capsys.readouterr()
    call_command("reconcile_schedules")
    assert capsys.readouterr().out.strip().endswith("no drift")
    assert not MirrorOutbox.objects.exists()
    codes = {str(c) for c in Schedule.objects.values_list("code", flat=True)}
    assert len(codes) == 100
    assert mirror.remote_codes() == codes
    for code in codes:
        assert mirror.drift(code) is None
    states = {
        rule["Name"]: rule["State"]
        for rule in real.list_rules(NamePrefix="smartlight-", Limit=100)["Rules"]
    }
    for schedule in Schedule.objects.all():
        assert states[f"smartlight-{schedule.code}"] == (
            "ENABLED" if schedule.enabled else "DISABLED"
        )
    print(f"pending after in-process retries: {pending_after_retries}")
