"""Editing, enabling/disabling and deleting a schedule in the portal."""

from __future__ import annotations

from django.urls import reverse

from schedules.models import MirrorOutbox, Schedule


def test_the_edit_form_shows_the_saved_values(client_for, bob, make_schedule):
    schedule = make_schedule()
    page = client_for(bob).get(reverse("schedule_edit", args=[schedule.code])).content.decode()
    assert 'value="Wake up"' in page
    assert 'value="07:00"' in page
    assert 'value="900"' in page  # the 15-minute fade, in seconds


def test_a_member_changes_the_time(client_for, bob, make_schedule, lamp):
    schedule = make_schedule()
    response = client_for(bob).post(
        reverse("schedule_edit", args=[schedule.code]),
        {
            "name": "Later",
            "trigger": "weekly",
            "run_time": "08:15",
            "weekdays": ["5", "6"],
            "action": "state",
            "devices": [str(lamp.code)],
            "on": "on",
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    schedule.refresh_from_db()
    assert schedule.name == "Later"
    assert schedule.description == "Weekends at 08:15, Europe/Berlin"
    assert schedule.desired == {"on": True}


def test_a_viewer_cannot_edit(client_for, vera, make_schedule):
    schedule = make_schedule()
    url = reverse("schedule_edit", args=[schedule.code])
    assert client_for(vera).post(url, {"name": "Mine"}).status_code == 403
    assert Schedule.objects.get(pk=schedule.pk).name == "Wake up"


def test_another_home_gets_not_found(client_for, charlie, charlies_home, make_schedule):
    schedule = make_schedule()
    client = client_for(charlie)
    assert client.get(reverse("schedule_edit", args=[schedule.code])).status_code == 404
    assert (
        client.post(reverse("schedule_enabled", args=[schedule.code]), {"enabled": "0"}).status_code
        == 404
    )
    assert client.post(reverse("schedule_delete", args=[schedule.code])).status_code == 404
    schedule.refresh_from_db()
    assert schedule.enabled is True


def test_a_member_disables_and_enables(client_for, bob, make_schedule):
    schedule = make_schedule()
    client = client_for(bob)
    url = reverse("schedule_enabled", args=[schedule.code])
    assert client.post(url, {"enabled": "0"}).status_code == 302
    assert Schedule.objects.get(pk=schedule.pk).enabled is False
    client.post(url, {"enabled": "1"})
    assert Schedule.objects.get(pk=schedule.pk).enabled is True


def test_enable_needs_post(client_for, bob, make_schedule):
    schedule = make_schedule()
    assert client_for(bob).get(reverse("schedule_enabled", args=[schedule.code])).status_code == 405


def test_a_member_deletes_and_the_mirror_delete_waits_in_the_outbox(client_for, bob, make_schedule):
    schedule = make_schedule()
    MirrorOutbox.objects.all().delete()
    response = client_for(bob).post(reverse("schedule_delete", args=[schedule.code]))
    assert response.status_code == 302
    assert not Schedule.objects.exists()
    assert MirrorOutbox.objects.filter(code=schedule.code).exists()


def test_a_viewer_cannot_delete(client_for, vera, make_schedule):
    schedule = make_schedule()
    assert (
        client_for(vera).post(reverse("schedule_delete", args=[schedule.code])).status_code == 403
    )
    assert Schedule.objects.filter(pk=schedule.pk).exists()
