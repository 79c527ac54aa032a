"""One-off dates at the ends of the calendar: refused with a reason everywhere, never a 500."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.urls import reverse

from schedules import timing
from schedules.models import Schedule

URL = "/api/v1/schedules"
NOW = dt.datetime(2026, 6, 10, 12, tzinfo=dt.UTC)
EDGES = [("0001-01-01", "00:00"), ("9999-12-31", "23:30"), ("1969-12-31", "23:59"),
         ("2200-01-01", "00:00")]


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def _api(client, method, url, body):
    return getattr(client, method)(url, json.dumps(body), content_type="application/json")


def _once(lamp, date, time) -> dict:
    return {"name": "Far away", "trigger": "once", "run_date": date, "run_time": time,
            "devices": [str(lamp.code)], "desired": {"on": True}}


@pytest.mark.parametrize(("date", "time"), EDGES)
def test_the_api_refuses_a_date_outside_the_calendar_it_can_run(client_for, bob, lamp, date,
                                                                 time):
    client = client_for(bob)
    for url in (URL, f"{URL}/preview"):
        response = _api(client, "post", url, _once(lamp, date, time))
        assert response.status_code == 422, (url, response.content)
        (error,) = response.json()["detail"]
        assert error["loc"][-1] == "date" and "between 1970-01-01 and 2199-12-31" in error["msg"]
    assert not Schedule.objects.exists()


@pytest.mark.parametrize(("date", "time"), EDGES)
def test_patching_to_such_a_date_is_refused_and_changes_nothing(client_for, bob, lamp,
                                                                make_schedule, date, time):
    schedule = make_schedule()
    response = _api(client_for(bob), "patch", f"{URL}/{schedule.code}",
                    {"trigger": "once", "run_date": date, "run_time": time})
    assert response.status_code == 422
    schedule.refresh_from_db()
    assert schedule.trigger == "weekly" and schedule.run_date is None


@pytest.mark.parametrize(("date", "time"), EDGES)
def test_the_portal_form_and_preview_explain_the_bounds(client_for, bob, lamp, date, time):
    client = client_for(bob)
    data = {"name": "Far away", "trigger": "once", "run_date": date, "run_time": time,
            "action": "state", "devices": [str(lamp.code)], "on": "on", "enabled": "on"}
    created = client.post(reverse("schedule_new"), data)
    assert created.status_code in (200, 400)
    assert b"between 1970-01-01 and 2199-12-31" in created.content
    preview = client.post(reverse("schedule_preview"), data)
    assert preview.status_code == 200
    assert b"between 1970-01-01 and 2199-12-31" in preview.content
    assert not Schedule.objects.exists()


def test_an_api_time_with_an_offset_is_refused(client_for, bob, lamp):
    response = _api(client_for(bob), "post", URL, _once(lamp, "2026-07-01", "07:00:00+02:00"))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "run_time"


def test_a_schedule_at_the_last_date_survives_any_time_zone_change(client_for, alice, home,
                                                                   make_schedule):
    schedule = make_schedule(trigger="once", run_date=dt.date(2199, 12, 31),
                             run_time=dt.time(23, 30), weekdays=[])
    for zone in ("Pacific/Kiritimati", "Etc/GMT+12", "UTC"):
        response = client_for(alice).post(
            f"/homes/{home.code}/settings/", {"name": home.name, "timezone": zone}
        )
        assert response.status_code == 302
        schedule.refresh_from_db()
        assert schedule.next_run is not None


def test_a_stored_date_beyond_the_bounds_has_no_next_run_instead_of_an_error():
    trigger = timing.Trigger(kind="once", tz="Etc/GMT-14", date=dt.date(9999, 12, 31),
                             time=dt.time(23, 30))
    assert timing.next_runs(trigger, NOW) == []
    trigger = timing.Trigger(kind="once", tz="Etc/GMT+12", date=dt.date(1, 1, 1),
                             time=dt.time(0, 0))
    assert timing.next_runs(trigger, NOW) == []
