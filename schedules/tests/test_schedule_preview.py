"""The htmx preview: the plain description and next five runs, before saving."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

UTC = dt.UTC


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(dt.datetime(2026, 10, 22, 12, tzinfo=UTC), tick=False):
        yield


def test_it_previews_five_runs_across_the_autumn_change(client_for, bob, home):
    response = client_for(bob).post(
        reverse("schedule_preview"),
        {"trigger": "weekly", "run_time": "07:00", "weekdays": ["0", "1", "2", "3", "4"]},
        HTTP_HX_REQUEST="true",
    )
    page = response.content.decode()
    assert "Weekdays at 07:00, Europe/Berlin" in page
    assert page.count("<li>") == 5
    assert "Fri 23 Oct 2026, 07:00 CEST" in page
    assert "Mon 26 Oct 2026, 07:00 CET" in page


def test_it_explains_an_invalid_cron(client_for, bob, home):
    response = client_for(bob).post(
        reverse("schedule_preview"), {"trigger": "cron", "cron": "0 0 30 2 *"}
    )
    assert "never matches a real date" in response.content.decode()


def test_it_notes_days_without_a_sunset(client_for, bob, home):
    home.latitude, home.longitude, home.timezone = 78.22, 15.65, "Europe/Oslo"
    home.save()
    with time_machine.travel(dt.datetime(2026, 6, 21, 12, tzinfo=UTC), tick=False):
        response = client_for(bob).post(
            reverse("schedule_preview"), {"trigger": "sunset", "offset_minutes": "0"}
        )
    page = response.content.decode()
    assert "The sun does not set from" in page
    assert "Aug 2026" in page


def test_it_needs_a_signed_in_user(client):
    response = client.post(reverse("schedule_preview"), {"trigger": "weekly"})
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
