"""Changing which lights a schedule reaches, or what its scene sets, re-mirrors it in the same
transaction, by every path (portal, API, admin): its EventBridge Input names things and states."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from devices.models import Device, Room, Scene
from schedules import actions as schedule_actions
from schedules.models import MirrorOutbox, Schedule


@pytest.fixture
def rooms(home):
    return (Room.objects.create(home=home, name="Hall"),
            Room.objects.create(home=home, name="Study"))


@pytest.fixture
def lamp(home, rooms):
    return Device.objects.create(home=home, room=rooms[0], name="Lamp",
                                 thing_name="sl-0000000000e1")


def schedule(home, **targets) -> Schedule:
    raw = {"name": "Evening", "trigger": "weekly", "run_time": dt.time(19, 0),
           "weekdays": [0, 1, 2, 3, 4, 5, 6], "desired": {"on": True}, **targets}
    return schedule_actions.do_create_schedule(home, schedule_actions.clean_schedule(home, raw))


def marked() -> set[str]:
    return {str(code) for code in MirrorOutbox.objects.values_list("code", flat=True)}


def test_moving_a_light_re_mirrors_the_schedules_of_both_rooms(client_for, bob, home, rooms, lamp):
    hall = schedule(home, rooms=[str(rooms[0].code)])
    study = schedule(home, rooms=[str(rooms[1].code)])
    MirrorOutbox.objects.all().delete()

    response = client_for(bob).patch(f"/api/v1/devices/{lamp.code}", {"room": str(rooms[1].code)},
                                     content_type="application/json")

    assert response.status_code == 200
    assert marked() == {str(hall.code), str(study.code)}
    assert study.lambda_input()["things"] == ["sl-0000000000e1"]
    assert Schedule.objects.get(pk=hall.pk).lambda_input()["things"] == []


def test_renaming_a_light_leaves_the_mirrors_alone(client_for, bob, home, lamp):
    schedule(home, devices=[str(lamp.code)])
    MirrorOutbox.objects.all().delete()

    response = client_for(bob).post(reverse("device_edit", args=[lamp.code]),
                                    {"name": "Reading lamp", "room": str(lamp.room.code)})

    assert response.status_code == 302
    assert Device.objects.get(pk=lamp.pk).name == "Reading lamp"
    assert marked() == set()


def test_moving_a_light_in_the_portal_re_mirrors(client_for, bob, home, rooms, lamp):
    study = schedule(home, rooms=[str(rooms[1].code)])
    MirrorOutbox.objects.all().delete()

    response = client_for(bob).post(reverse("device_edit", args=[lamp.code]),
                                    {"name": "Lamp", "room": str(rooms[1].code)})

    assert response.status_code == 302
    assert str(study.code) in marked()
    assert Device.objects.get(pk=lamp.pk).room == rooms[1]


def test_removing_a_light_drops_it_from_the_mirrored_input(client_for, alice, home, lamp):
    other = Device.objects.create(home=home, name="Strip", thing_name="sl-0000000000e2")
    evening = schedule(home, devices=[str(lamp.code), str(other.code)])
    MirrorOutbox.objects.all().delete()

    response = client_for(alice).post(reverse("device_delete", args=[lamp.code]))

    assert response.status_code == 302
    assert str(evening.code) in marked()
    assert Schedule.objects.get(pk=evening.pk).lambda_input()["things"] == ["sl-0000000000e2"]


def test_removing_a_room_re_mirrors_its_schedules(client_for, bob, home, rooms, lamp):
    hall = schedule(home, rooms=[str(rooms[0].code)])
    MirrorOutbox.objects.all().delete()

    response = client_for(bob).delete(f"/api/v1/rooms/{rooms[0].code}")

    assert response.status_code == 204
    assert marked() == {str(hall.code)}


def test_deleting_a_scene_switches_its_schedules_off_and_says_why(client_for, bob, home, lamp):
    scene = Scene.objects.create(home=home, name="Movie", states={lamp.thing_name: {"on": False}})
    movie = schedule(home, scene=str(scene.code), desired={})
    MirrorOutbox.objects.all().delete()

    response = client_for(bob).post(reverse("scene_delete", args=[scene.code]), follow=True)

    movie.refresh_from_db()
    assert (movie.enabled, movie.next_run, movie.scene_id) == (False, None, None)
    assert movie.last_result == {"status": "disabled",
                                 "reason": "its scene “Movie” was deleted"}
    assert str(movie.code) in marked()
    assert "1 schedule(s) that applied it are now switched off." in response.content.decode()


def admin_save(device: Device, change: bool = True) -> None:
    from django.contrib import admin
    from django.test import RequestFactory

    admin.site._registry[Device].save_model(RequestFactory().post("/"), device, None, change)


def test_moving_a_light_to_another_home_in_the_admin_leaves_the_old_homes_schedules(
    home, lamp, charlies_home
):
    evening = schedule(home, devices=[str(lamp.code)])
    MirrorOutbox.objects.all().delete()

    lamp.home, lamp.room = charlies_home, None
    admin_save(lamp)

    assert list(Schedule.objects.get(pk=evening.pk).devices.all()) == []
    assert Schedule.objects.get(pk=evening.pk).lambda_input()["things"] == []
    assert str(evening.code) in marked()


def test_moving_a_light_between_rooms_in_the_admin_re_mirrors(home, rooms, lamp):
    hall = schedule(home, rooms=[str(rooms[0].code)])
    study = schedule(home, rooms=[str(rooms[1].code)])
    MirrorOutbox.objects.all().delete()

    lamp.room = rooms[1]
    admin_save(lamp)

    assert marked() == {str(hall.code), str(study.code)}


def test_overwriting_a_scene_re_mirrors_the_schedules_that_apply_it(client_for, bob, home, lamp):
    scene = Scene.objects.create(home=home, name="Movie", states={lamp.thing_name: {"on": False}})
    movie = schedule(home, scene=str(scene.code), desired={})
    MirrorOutbox.objects.all().delete()
    lamp.desired = {"on": True, "brightness": 40}
    lamp.save(update_fields=["desired"])

    response = client_for(bob).post("/api/v1/scenes", {
        "home": str(home.code), "name": "Movie", "devices": [str(lamp.code)]},
        content_type="application/json")

    assert response.status_code == 201
    assert marked() == {str(movie.code)}
    states = Schedule.objects.get(pk=movie.pk).lambda_input()["states"]
    assert states[lamp.thing_name]["on"] is True
    assert states[lamp.thing_name]["brightness"] == 40


def test_a_light_added_in_the_admin_joins_its_rooms_schedules(home, rooms, lamp):
    hall = schedule(home, rooms=[str(rooms[0].code)])
    MirrorOutbox.objects.all().delete()

    added = Device(home=home, room=rooms[0], name="New", thing_name="sl-0000000000e9")
    admin_save(added, change=False)

    assert marked() == {str(hall.code)}
    assert Schedule.objects.get(pk=hall.pk).lambda_input()["things"] == [
        "sl-0000000000e1", "sl-0000000000e9"]


def test_a_room_deleted_in_the_admin_re_mirrors_its_schedules(home, rooms, lamp):
    from django.contrib import admin
    from django.test import RequestFactory

    hall = schedule(home, rooms=[str(rooms[0].code)])
    MirrorOutbox.objects.all().delete()

    admin.site._registry[Room].delete_model(RequestFactory().post("/"), rooms[0])

    assert marked() == {str(hall.code)}
    assert Schedule.objects.get(pk=hall.pk).lambda_input()["things"] == []


def test_a_scene_edited_in_the_admin_re_mirrors_its_schedules(home, lamp):
    from django.contrib import admin
    from django.test import RequestFactory

    scene = Scene.objects.create(home=home, name="Movie", states={lamp.thing_name: {"on": False}})
    movie = schedule(home, scene=str(scene.code), desired={})
    MirrorOutbox.objects.all().delete()

    scene.states = {lamp.thing_name: {"on": True}}
    admin.site._registry[Scene].save_model(RequestFactory().post("/"), scene, None, True)

    assert marked() == {str(movie.code)}
