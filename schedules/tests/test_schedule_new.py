"""Creating a schedule in the portal."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from schedules.models import Schedule

UTC = dt.UTC


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(dt.datetime(2026, 6, 10, 12, tzinfo=UTC), tick=False):
        yield


def form(lamp, **overrides) -> dict:
    data = {
        "name": "Wake up",
        "trigger": "weekly",
        "run_time": "07:00",
        "weekdays": ["0", "1", "2", "3", "4"],
        "action": "state",
        "devices": [str(lamp.code)],
        "on": "on",
        "brightness": "100",
        "transition_s": "900",
        "enabled": "on",
    }
    data.update(overrides)
    return data


def test_a_member_creates_a_wake_up_fade(client_for, bob, home, lamp):
    response = client_for(bob).post(reverse("schedule_new"), form(lamp))
    assert response.status_code == 302
    schedule = Schedule.objects.get()
    assert schedule.home == home
    assert schedule.desired == {"on": True, "brightness": 255, "transition_ms": 900_000}
    assert list(schedule.devices.all()) == [lamp]
    assert schedule.next_run == dt.datetime(2026, 6, 11, 5, tzinfo=UTC)


def test_it_shows_a_clear_error_for_an_invalid_cron(client_for, bob, lamp):
    response = client_for(bob).post(
        reverse("schedule_new"), form(lamp, trigger="cron", cron="every morning")
    )
    assert response.status_code == 200
    assert "A cron expression has 5 fields" in response.content.decode()
    assert not Schedule.objects.exists()


def test_it_shows_an_error_for_a_one_off_in_the_past(client_for, bob, lamp):
    response = client_for(bob).post(
        reverse("schedule_new"), form(lamp, trigger="once", run_date="2026-06-01")
    )
    assert "is in the past" in response.content.decode()
    assert not Schedule.objects.exists()


def test_it_shows_an_error_for_sunset_without_a_location(client_for, bob, lamp):
    response = client_for(bob).post(
        reverse("schedule_new"), form(lamp, trigger="sunset", offset_minutes="0")
    )
    assert response.content.decode().count("need the home&#x27;s location") == 1
    assert not Schedule.objects.exists()


def test_the_new_form_says_once_that_the_home_has_no_location(client_for, bob, lamp):
    page = client_for(bob).get(reverse("schedule_new")).content.decode()
    assert page.count("need the home&#x27;s location") == 1
    preview = client_for(bob).post(reverse("schedule_preview"),
                                   {"trigger": "sunset", "offset_minutes": "0"})
    assert "location" not in preview.content.decode()


def test_it_refuses_a_light_of_another_home(client_for, bob, lamp, charlies_lamp):
    response = client_for(bob).post(
        reverse("schedule_new"), form(lamp, devices=[str(charlies_lamp.code)])
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Schedule.objects.exists()


def test_it_needs_something_to_do(client_for, bob, lamp):
    response = client_for(bob).post(
        reverse("schedule_new"), form(lamp, on="", brightness="", transition_s="")
    )
    assert "Say what the lights should do" in response.content.decode()
    assert not Schedule.objects.exists()


def test_a_scene_can_be_scheduled(client_for, bob, lamp, scene):
    response = client_for(bob).post(
        reverse("schedule_new"), form(lamp, action="scene", scene=str(scene.code))
    )
    assert response.status_code == 302
    schedule = Schedule.objects.get()
    assert schedule.scene == scene
    assert schedule.desired == {}
    assert not schedule.devices.exists()


def test_a_viewer_cannot_create(client_for, vera, lamp):
    assert client_for(vera).get(reverse("schedule_new")).status_code == 403
    assert client_for(vera).post(reverse("schedule_new"), form(lamp)).status_code == 403
    assert not Schedule.objects.exists()


def test_the_new_form_starts_from_weekdays_at_seven(client_for, bob, home):
    response = client_for(bob).get(reverse("schedule_new"))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'value="07:00"' in page
    for day in "0123456":
        checked = f'value="{day}" id="id_weekdays_{day}" checked' in page
        assert checked == (day in "01234"), f"weekday {day}"


def test_the_effect_is_chosen_from_the_homes_lights_and_a_white_can_be_set(client_for, bob,
                                                                         lamp):
    lamp.reported = {"effects": ["solid", "candle", "rainbow"]}
    lamp.save()
    client = client_for(bob)
    page = client.get(reverse("schedule_new")).content.decode()
    assert '<option value="candle">Candle</option>' in page
    assert "Advanced (cron)" in page
    response = client.post(reverse("schedule_new"), form(
        lamp, trigger="weekly", run_time="07:00", weekdays=["0"], effect="candle",
        color_temp_k="2700"))
    assert response.status_code == 302, response.content.decode()[:3000]
    desired = Schedule.objects.get().desired
    assert (desired["effect"], desired["color_temp_k"]) == ("candle", 2700)


def test_an_effect_no_light_offers_is_refused(client_for, bob, lamp):
    response = client_for(bob).post(reverse("schedule_new"), form(
        lamp, trigger="weekly", run_time="07:00", weekdays=["0"], effect="fireworks"))
    assert response.status_code == 200
    assert "fireworks is not one of the available choices" in response.content.decode()
    assert not Schedule.objects.exists()
