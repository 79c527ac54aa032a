"""A failing AWS never breaks a page or an API call, and never loses the change."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from botocore.exceptions import EndpointConnectionError
from django.urls import reverse

from schedules import mirror
from schedules.models import MirrorOutbox, Schedule
from schedules.tests.test_schedule_new import form

UTC = dt.UTC


@pytest.fixture(autouse=True)
def eventbridge_down(monkeypatch):
    calls = []

    def unreachable(code):
        calls.append(code)
        raise EndpointConnectionError(endpoint_url="https://events.us-east-1.amazonaws.com")

    monkeypatch.setattr(mirror, "push", unreachable)
    with time_machine.travel(dt.datetime(2026, 6, 10, 12, tzinfo=UTC), tick=False):
        yield calls


def test_the_portal_saves_the_schedule_and_keeps_it_in_the_outbox(
    client_for, bob, lamp, eventbridge_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(bob).post(reverse("schedule_new"), form(lamp))

    assert response.status_code == 302
    schedule = Schedule.objects.get()
    assert eventbridge_down, "the push was attempted after the commit"
    entry = MirrorOutbox.objects.get(code=schedule.code)
    assert entry.attempts >= 1
    assert "events.us-east-1.amazonaws.com" in entry.last_error


def test_the_api_answers_201_and_keeps_the_change(
    client_for, bob, home, lamp, eventbridge_down, django_capture_on_commit_callbacks
):
    body = {"name": "Wake", "trigger": "weekly", "run_time": "07:00", "weekdays": [0, 1, 2],
            "devices": [str(lamp.code)], "desired": {"on": True}}
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(bob).post("/api/v1/schedules", body,
                                        content_type="application/json")

    assert response.status_code == 201, response.content
    code = response.json()["code"]
    assert Schedule.objects.filter(code=code).exists()
    assert MirrorOutbox.objects.filter(code=code).exists()


def test_deleting_keeps_the_removal_in_the_outbox(
    client_for, bob, make_schedule, eventbridge_down, django_capture_on_commit_callbacks
):
    schedule = make_schedule()
    MirrorOutbox.objects.all().delete()

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(bob).post(reverse("schedule_delete", args=[schedule.code]))

    assert response.status_code == 302
    assert not Schedule.objects.filter(pk=schedule.pk).exists()
    assert MirrorOutbox.objects.filter(code=schedule.code).exists()
