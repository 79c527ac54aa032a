"""/api/v1/schedules: create, edit, enable/disable, delete, list, preview; scoping and errors."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine

from schedules.models import MirrorOutbox, Schedule

URL = "/api/v1/schedules"
UTC = dt.UTC
NOW = dt.datetime(2026, 6, 10, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def patch(client, url, body):
    return client.patch(url, json.dumps(body), content_type="application/json")


def body(lamp, **overrides) -> dict:
    data = {
        "name": "Wake up",
        "trigger": "weekly",
        "run_time": "07:00",
        "weekdays": [0, 1, 2, 3, 4],
        "devices": [str(lamp.code)],
        "desired": {"on": True, "brightness": 255, "transition_ms": 900000},
    }
    data.update(overrides)
    return data


def errors_of(response) -> dict[str, str]:
    assert response.status_code == 422, response.content
    return {tuple(e["loc"][2:])[0]: e["msg"] for e in response.json()["detail"]}


def test_a_member_creates_a_schedule(client_for, bob, home, lamp):
    response = post(client_for(bob), URL, body(lamp))
    assert response.status_code == 201, response.content
    data = response.json()
    schedule = Schedule.objects.get(code=data["code"])
    assert schedule.home == home
    assert data["description"] == "Weekdays at 07:00, Europe/Berlin"
    assert data["next_run"] == "2026-06-11T05:00:00Z"
    assert data["devices"] == [str(lamp.code)]
    assert data["mirrored"] is False  # the push runs after the commit
    assert MirrorOutbox.objects.filter(code=schedule.code).exists()


def test_it_lists_only_my_homes_schedules(client_for, alice, charlie, make_schedule, lamp):
    mine = make_schedule()
    assert [s["code"] for s in client_for(charlie).get(URL).json()] == []
    listed = client_for(alice).get(URL).json()
    assert [s["code"] for s in listed] == [str(mine.code)]


def test_a_viewer_can_read_but_not_create(client_for, vera, make_schedule, lamp):
    schedule = make_schedule()
    client = client_for(vera)
    assert client.get(f"{URL}/{schedule.code}").status_code == 200
    assert post(client, URL, body(lamp)).status_code == 403
    assert patch(client, f"{URL}/{schedule.code}", {"name": "x"}).status_code == 403
    assert client.post(f"{URL}/{schedule.code}/disable").status_code == 403
    assert client.delete(f"{URL}/{schedule.code}").status_code == 403
    assert Schedule.objects.get(pk=schedule.pk).name == "Wake up"


def test_another_homes_schedule_is_not_found(client_for, charlie, charlies_home, make_schedule):
    schedule = make_schedule()
    client = client_for(charlie)
    for response in (
        client.get(f"{URL}/{schedule.code}"),
        patch(client, f"{URL}/{schedule.code}", {"name": "mine now"}),
        client.post(f"{URL}/{schedule.code}/disable"),
        client.delete(f"{URL}/{schedule.code}"),
    ):
        assert response.status_code == 404
    schedule.refresh_from_db()
    assert (schedule.name, schedule.enabled) == ("Wake up", True)


def test_it_rejects_an_invalid_cron(client_for, bob, lamp):
    response = post(client_for(bob), URL, body(lamp, trigger="cron", cron="61 * * * *"))
    assert errors_of(response) == {"cron": "'61 * * * *' is not a valid cron expression."}
    assert not Schedule.objects.exists()


def test_it_rejects_a_one_off_time_in_the_past(client_for, bob, lamp):
    response = post(
        client_for(bob), URL, body(lamp, trigger="once", run_date="2026-06-10", run_time="13:59")
    )  # 13:59 CEST = 11:59 UTC, a minute before now
    assert "in the past" in errors_of(response)["date"]
    assert not Schedule.objects.exists()


def test_it_rejects_a_sun_trigger_without_a_home_location(client_for, bob, lamp):
    response = post(client_for(bob), URL, body(lamp, trigger="sunset", offset_minutes=-30))
    assert "location" in errors_of(response)["trigger"]
    assert not Schedule.objects.exists()


def test_it_accepts_a_sun_trigger_once_the_home_has_a_location(client_for, bob, home, lamp):
    home.latitude, home.longitude = 52.52, 13.405
    home.save()
    response = post(client_for(bob), URL, body(lamp, trigger="sunset", offset_minutes=-30))
    assert response.status_code == 201
    assert response.json()["description"] == "30 min before sunset, Europe/Berlin"


def test_it_rejects_targets_from_another_home(client_for, bob, lamp, charlies_lamp):
    response = post(client_for(bob), URL, body(lamp, devices=[str(charlies_lamp.code)]))
    assert errors_of(response) == {"devices": f"Not in this home: {charlies_lamp.code}."}
    assert not Schedule.objects.exists()


def test_it_rejects_a_bad_light_setting(client_for, bob, lamp):
    response = post(client_for(bob), URL, body(lamp, desired={"brightness": 256}))
    assert "0 to 255" in errors_of(response)["desired"]
    assert not Schedule.objects.exists()


def test_it_rejects_a_scene_together_with_lights(client_for, bob, lamp, scene):
    response = post(client_for(bob), URL, body(lamp, desired={}, scene=str(scene.code)))
    assert "not both" in errors_of(response)["scene"]


def test_a_member_edits_a_schedule(client_for, bob, make_schedule):
    schedule = make_schedule()
    response = patch(
        client_for(bob), f"{URL}/{schedule.code}", {"run_time": "06:30", "weekdays": [5, 6]}
    )
    assert response.status_code == 200, response.content
    assert response.json()["description"] == "Weekends at 06:30, Europe/Berlin"
    schedule.refresh_from_db()
    assert schedule.next_run == dt.datetime(2026, 6, 13, 4, 30, tzinfo=UTC)


def test_a_bad_edit_changes_nothing(client_for, bob, make_schedule):
    schedule = make_schedule()
    response = patch(client_for(bob), f"{URL}/{schedule.code}", {"trigger": "cron", "cron": "x"})
    assert "cron" in errors_of(response)
    schedule.refresh_from_db()
    assert (schedule.trigger, schedule.cron) == ("weekly", "")


def test_switching_an_edit_to_a_scene_replaces_the_lights(client_for, bob, make_schedule, scene):
    schedule = make_schedule()
    response = patch(client_for(bob), f"{URL}/{schedule.code}", {"scene": str(scene.code)})
    assert response.status_code == 200, response.content
    assert response.json()["devices"] == []
    assert response.json()["scene"] == str(scene.code)


def test_a_member_disables_and_enables_a_schedule(client_for, bob, make_schedule):
    schedule = make_schedule()
    client = client_for(bob)
    assert client.post(f"{URL}/{schedule.code}/disable").json()["enabled"] is False
    assert Schedule.objects.get(pk=schedule.pk).enabled is False
    assert client.post(f"{URL}/{schedule.code}/enable").json()["enabled"] is True


def test_a_member_deletes_a_schedule_and_the_mirror_delete_is_queued(
    client_for, bob, make_schedule
):
    schedule = make_schedule()
    MirrorOutbox.objects.all().delete()
    assert client_for(bob).delete(f"{URL}/{schedule.code}").status_code == 204
    assert not Schedule.objects.exists()
    assert MirrorOutbox.objects.filter(code=schedule.code).exists()


def test_preview_describes_and_lists_the_next_five_runs(client_for, vera, lamp):
    response = post(client_for(vera), f"{URL}/preview", body(lamp))
    assert response.status_code == 200
    data = response.json()
    assert data["description"] == "Weekdays at 07:00, Europe/Berlin"
    assert data["next_runs"] == [
        "2026-06-11T05:00:00Z",
        "2026-06-12T05:00:00Z",
        "2026-06-15T05:00:00Z",
        "2026-06-16T05:00:00Z",
        "2026-06-17T05:00:00Z",
    ]


def test_an_api_token_reaches_the_same_schedules(client, alice, make_schedule):
    from accounts.models import ApiToken

    schedule = make_schedule()
    _, raw = ApiToken.issue(alice, "script")
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert [s["code"] for s in response.json()] == [str(schedule.code)]


def test_anonymous_requests_are_refused(client, db):
    assert client.get(URL).status_code == 401


def test_it_rejects_more_lights_than_an_eventbridge_input_can_hold(client_for, bob, home, room):
    from devices.models import Device

    Device.objects.bulk_create(
        Device(home=home, room=room, name=f"L{n}", thing_name=f"sl-{n:012x}") for n in range(301)
    )
    response = post(client_for(bob), URL, body(room, devices=[], rooms=[str(room.code)]))
    assert errors_of(response) == {"devices": "A schedule sets at most 300 lights; this names 301."}
    assert not Schedule.objects.exists()


@pytest.fixture
def charlies_room(charlies_home):
    from devices.models import Room

    return Room.objects.create(home=charlies_home, name="Garage")


@pytest.fixture
def charlies_scene(charlies_home, charlies_lamp):
    from devices.models import Scene

    return Scene.objects.create(
        home=charlies_home, name="Party", states={charlies_lamp.thing_name: {"on": True}}
    )


def nothing_saved() -> bool:
    return not Schedule.objects.exists() and not MirrorOutbox.objects.exists()


def test_creating_in_another_home_is_not_found(client_for, charlie, charlies_home, home, lamp):
    response = post(client_for(charlie), URL, body(lamp, home=str(home.code)))
    assert response.status_code == 404
    assert nothing_saved()


def test_a_member_cannot_create_in_a_home_they_do_not_belong_to(
    client_for, bob, charlies_home, charlies_lamp
):
    response = post(
        client_for(bob), URL, body(charlies_lamp, home=str(charlies_home.code))
    )
    assert response.status_code == 404
    assert nothing_saved()


def test_it_rejects_rooms_from_another_home(client_for, bob, lamp, charlies_room):
    response = post(
        client_for(bob), URL, body(lamp, devices=[], rooms=[str(charlies_room.code)])
    )
    assert errors_of(response) == {"rooms": f"Not in this home: {charlies_room.code}."}
    assert nothing_saved()


def test_it_rejects_a_scene_from_another_home(client_for, bob, lamp, charlies_scene):
    response = post(
        client_for(bob), URL, body(lamp, devices=[], desired={}, scene=str(charlies_scene.code))
    )
    assert errors_of(response)["scene"] == f"Not in this home: {charlies_scene.code}."
    assert nothing_saved()


def test_a_foreign_scene_is_the_only_error(client_for, bob, lamp, charlies_scene):
    response = post(
        client_for(bob), URL, body(lamp, devices=[], desired={}, scene=str(charlies_scene.code))
    )
    assert errors_of(response) == {"scene": f"Not in this home: {charlies_scene.code}."}


def test_an_edit_cannot_point_at_another_homes_room_or_scene(
    client_for, bob, make_schedule, lamp, charlies_room, charlies_scene
):
    schedule = make_schedule()
    client = client_for(bob)
    url = f"{URL}/{schedule.code}"
    rooms = patch(client, url, {"rooms": [str(charlies_room.code)]})
    assert errors_of(rooms) == {"rooms": f"Not in this home: {charlies_room.code}."}
    scene = patch(client, url, {"scene": str(charlies_scene.code)})
    assert errors_of(scene)["scene"] == f"Not in this home: {charlies_scene.code}."
    schedule.refresh_from_db()
    assert schedule.scene is None
    assert list(schedule.devices.all()) == [lamp] and not schedule.rooms.exists()
