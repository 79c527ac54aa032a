"""Scenes in the portal: save the current look of chosen lights, apply it in one click."""

from __future__ import annotations

import pytest

from devices.models import Device, Room, Scene
from devices.tests.conftest import live_shadow, register_thing


@pytest.fixture
def two_lights(aws, light, home):
    lamp = Device.objects.create(
        home=home, name="Lamp", thing_name="sl-0000000000a2",
        reported={"on": False, "brightness": 30, "color": "#0000ff", "effect": "solid",
                  "speed": 1, "effects": ["solid"]},
    )
    for device in (light, lamp):
        register_thing(aws, device.thing_name)
    return light, lamp


def test_a_member_saves_the_current_look_of_chosen_lights(client_for, bob, two_lights, home):
    light, lamp = two_lights
    response = client_for(bob).post("/scenes/", {"name": "Evening", "devices": [light.code]},
                                    follow=True)
    assert "Scene “Evening” saved." in response.content.decode()
    scene = Scene.objects.get(home=home)
    assert scene.states == {light.thing_name: {
        "on": True, "brightness": 200, "color": "#ff8800", "effect": "solid", "speed": 128}}


def test_applying_a_scene_writes_each_lights_look(client_for, bob, aws, two_lights, home):
    light, lamp = two_lights
    client = client_for(bob)
    client.post("/scenes/", {"name": "Both", "devices": [light.code, lamp.code]})
    scene = Scene.objects.get()
    response = client.post(f"/scenes/{scene.code}/apply/", follow=True)
    assert "Scene “Both” applied." in response.content.decode()
    assert live_shadow(aws, light.thing_name)["state"]["desired"]["brightness"] == 200
    assert live_shadow(aws, lamp.thing_name)["state"]["desired"] == {
        "on": False, "brightness": 30, "color": "#0000ff", "effect": "solid", "speed": 1}


def test_a_scene_needs_lights_of_this_home(client_for, alice, two_lights, charlies_light):
    response = client_for(alice).post(
        "/scenes/", {"name": "Sneaky", "devices": [charlies_light.code]}, follow=True)
    assert '<li class="msg msg-error">devices: ' in response.content.decode()
    assert not Scene.objects.exists()


def test_viewers_cannot_save_apply_or_delete_scenes(client_for, vera, aws, two_lights, home):
    light, _ = two_lights
    scene = Scene.objects.create(home=home, name="Night", states={light.thing_name: {"on": False}})
    client = client_for(vera)
    assert client.post("/scenes/", {"name": "V", "devices": [light.code]}).status_code == 403
    assert client.post(f"/scenes/{scene.code}/apply/").status_code == 403
    assert client.post(f"/scenes/{scene.code}/delete/").status_code == 403
    assert list(Scene.objects.values_list("name", flat=True)) == ["Night"]
    from devices import shadow

    with pytest.raises(shadow.ShadowNotFound):  # nothing was ever written to the light
        shadow.get_shadow(light.thing_name)


def test_other_homes_scenes_are_not_found(client_for, charlie, home, light):
    scene = Scene.objects.create(home=home, name="Night", states={})
    client = client_for(charlie)
    assert client.post(f"/scenes/{scene.code}/apply/").status_code == 404
    assert client.post(f"/scenes/{scene.code}/delete/").status_code == 404
    assert Scene.objects.filter(pk=scene.pk).exists()


def test_a_member_deletes_a_scene(client_for, bob, home):
    scene = Scene.objects.create(home=home, name="Night", states={})
    client_for(bob).post(f"/scenes/{scene.code}/delete/")
    assert not Scene.objects.exists()


def test_a_scene_writes_its_lights_shadows_at_the_same_time(home, monkeypatch):
    import threading

    from devices import actions, shadow

    lights = [Device.objects.create(home=home, name=f"Strip {i}",
                                    thing_name=f"sl-0000000c{i:04x}") for i in range(6)]
    scene = Scene.objects.create(home=home, name="All blue", states={
        light.thing_name: {"on": True, "color": "#0000ff"} for light in lights})
    # Every write waits until all six are in flight: one after another, none would get through.
    together = threading.Barrier(len(lights), timeout=5)
    written = []

    def update_desired(thing, desired, reported=None, **kwargs):
        together.wait()
        written.append(thing)
        return {}

    monkeypatch.setattr(shadow, "update_desired", update_desired)
    result = actions.do_apply_scene(scene)
    assert result.ok and len(result.changed) == 6
    assert sorted(written) == sorted(light.thing_name for light in lights)
    assert all(d.desired == {"on": True, "color": "#0000ff"}
               for d in Device.objects.filter(home=home))


def test_a_room_writes_its_lights_at_once_and_reports_the_one_that_failed(home, monkeypatch):
    import threading

    from devices import actions, shadow

    room = Room.objects.create(home=home, name="Hall")
    for i in range(4):
        Device.objects.create(home=home, room=room, name=f"Hall {i}",
                              thing_name=f"sl-0000000d{i:04x}")
    together = threading.Barrier(4, timeout=5)

    def update_desired(thing, desired, reported=None, **kwargs):
        together.wait()
        if thing.endswith("0002"):
            raise shadow.ShadowError()
        return {}

    monkeypatch.setattr(shadow, "update_desired", update_desired)
    result = actions.do_set_many(room.devices.all(), {"on": False})
    assert sorted(d.name for d in result.changed) == ["Hall 0", "Hall 1", "Hall 3"]
    assert list(result.failed) == ["Hall 2"]
    assert Device.objects.get(name="Hall 2").desired == {}
    assert Device.objects.get(name="Hall 3").desired == {"on": False}


def test_the_new_scene_page_lists_the_homes_lights_for_members_only(client_for, bob, vera,
                                                                     light):
    page = client_for(bob).get("/scenes/").content.decode()
    assert f'value="{light.code}" checked> Sofa strip' in page
    assert client_for(vera).get("/scenes/").status_code == 403
