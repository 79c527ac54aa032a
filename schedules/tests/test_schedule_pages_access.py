"""Who may change a schedule through the portal pages.

vera (a viewer in alice's home) sees schedules but every change is refused with 403; charlie
(another home) gets 404 for everything. Either way nothing about the schedule changes, its
mirror included.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from schedules.models import MirrorOutbox, Schedule


def schedules_state() -> dict:
    """Every field of every schedule, its targets, and the pending mirror pushes."""
    return {
        "schedules": list(Schedule.objects.order_by("pk").values()),
        "devices": sorted(Schedule.devices.through.objects.values_list("schedule_id",
                                                                        "device_id")),
        "rooms": sorted(Schedule.rooms.through.objects.values_list("schedule_id", "room_id")),
        "outbox": list(MirrorOutbox.objects.order_by("pk").values()),
    }


@pytest.fixture
def unchanged():
    """`with unchanged(): ...` asserts the block leaves every schedule exactly as it was."""
    from contextlib import contextmanager

    @contextmanager
    def check():
        before = schedules_state()
        yield
        assert schedules_state() == before

    return check


def edit_form(lamp, room) -> dict:
    """A complete, valid edit: it would be saved if the role allowed it."""
    return {
        "name": "Mine now",
        "trigger": "weekly",
        "run_time": "09:45",
        "weekdays": ["5", "6"],
        "action": "state",
        "devices": [str(lamp.code)],
        "rooms": [str(room.code)],
        "on": "on",
        "enabled": "on",
    }


def requests_on(schedule, lamp, room) -> list[tuple[str, str, dict | None]]:
    code = schedule.code
    return [
        ("get", reverse("schedule_edit", args=[code]), None),
        ("post", reverse("schedule_edit", args=[code]), edit_form(lamp, room)),
        ("post", reverse("schedule_enabled", args=[code]), {"enabled": "0"}),
        ("post", reverse("schedule_enabled", args=[code]), {"enabled": "1"}),
        ("post", reverse("schedule_delete", args=[code]), None),
    ]


def test_a_member_may_make_the_same_edit(client_for, bob, make_schedule, lamp, room):
    # The refusals below are about the role, not about a bad form.
    schedule = make_schedule()
    response = client_for(bob).post(reverse("schedule_edit", args=[schedule.code]),
                                    edit_form(lamp, room))
    assert response.status_code == 302
    schedule.refresh_from_db()
    assert schedule.name == "Mine now" and list(schedule.rooms.all()) == [room]


@pytest.mark.parametrize("enabled", [True, False])
def test_a_viewer_cannot_edit_switch_or_delete_a_schedule(client_for, vera, make_schedule, lamp,
                                                         room, unchanged, enabled):
    schedule = make_schedule(enabled=enabled)
    client = client_for(vera)
    with unchanged():
        for method, url, data in requests_on(schedule, lamp, room):
            response = getattr(client, method)(url, data or {})
            assert response.status_code == 403, (method, url)


def test_a_viewer_cannot_create_a_schedule(client_for, vera, lamp, room, unchanged):
    client = client_for(vera)
    with unchanged():
        assert client.get(reverse("schedule_new")).status_code == 403
        assert client.post(reverse("schedule_new"), edit_form(lamp, room)).status_code == 403
    assert not Schedule.objects.exists()


def test_a_viewer_sees_the_list_without_controls(client_for, vera, make_schedule):
    schedule = make_schedule()
    response = client_for(vera).get(reverse("schedule_list"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Wake up" in page
    for name in ("schedule_edit", "schedule_enabled", "schedule_delete"):
        assert reverse(name, args=[schedule.code]) not in page
    assert reverse("schedule_new") not in page


def test_another_home_gets_not_found_for_every_page(client_for, charlie, charlies_home,
                                                    make_schedule, lamp, room, unchanged):
    schedule = make_schedule()
    client = client_for(charlie)
    with unchanged():
        for method, url, data in requests_on(schedule, lamp, room):
            response = getattr(client, method)(url, data or {})
            assert response.status_code == 404, (method, url)
    assert "Wake up" not in client.get(reverse("schedule_list")).content.decode()


def test_signed_out_visitors_are_sent_to_sign_in(client, make_schedule, lamp, room, unchanged):
    schedule = make_schedule()
    with unchanged():
        for method, url, data in requests_on(schedule, lamp, room):
            response = getattr(client, method)(url, data or {})
            assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_viewer_opening_a_new_schedule_gets_the_portals_own_page(client_for, vera, lamp):
    response = client_for(vera).get(reverse("schedule_new"))
    page = response.content.decode()
    assert response.status_code == 403
    assert "css/app.css" in page
    assert "This needs the member role" in page
    assert "Back to the lights" in page
