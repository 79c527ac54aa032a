"""The schedules page at /schedules/."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse

UTC = dt.UTC


def test_it_lists_the_homes_schedules_with_description_and_last_result(
    client_for, alice, make_schedule
):
    schedule = make_schedule()
    schedule.last_run = dt.datetime(2026, 6, 15, 5, 0, tzinfo=UTC)
    schedule.last_result = {"status": "ok", "ok": ["sl-0000000000b1"], "failed": []}
    schedule.save()
    page = client_for(alice).get(reverse("schedule_list")).content.decode()
    assert "Wake up" in page
    assert "Weekdays at 07:00, Europe/Berlin" in page
    assert "Mon 15 Jun 2026, 07:00" in page  # last run, in the home's time zone
    assert "(1 light)" in page


def test_it_shows_a_partly_failed_run_with_the_failing_lights(client_for, alice, make_schedule):
    schedule = make_schedule()
    schedule.last_result = {
        "status": "partial",
        "ok": ["sl-0000000000b1"],
        "failed": [{"thing": "sl-0000000000b2", "error": "timeout"}],
    }
    schedule.save()
    page = client_for(alice).get(reverse("schedule_list")).content.decode()
    assert "partly failed" in page
    assert "sl-0000000000b2" in page


def test_it_uses_a_fixed_number_of_queries(
    client_for, alice, make_schedule, django_assert_max_num_queries
):
    client = client_for(alice)
    make_schedule(name="One")
    client.get(reverse("schedule_list"))
    with django_assert_max_num_queries(12) as one:
        client.get(reverse("schedule_list"))
    for n in range(5):
        make_schedule(name=f"More {n}")
    with django_assert_max_num_queries(len(one.captured_queries)):
        client.get(reverse("schedule_list"))


def test_it_hides_other_homes_schedules(client_for, charlie, charlies_home, make_schedule):
    make_schedule()
    page = client_for(charlie).get(reverse("schedule_list")).content.decode()
    assert "Wake up" not in page
    assert "No schedules yet" in page


def test_a_viewer_sees_schedules_without_edit_controls(client_for, vera, make_schedule):
    schedule = make_schedule()
    page = client_for(vera).get(reverse("schedule_list")).content.decode()
    assert "Wake up" in page
    assert reverse("schedule_edit", args=[schedule.code]) not in page
    assert "New schedule" not in page


def test_it_needs_a_signed_in_user(client):
    response = client.get(reverse("schedule_list"))
    assert response.status_code == 302
