"""Editing a scene: its name and the look it brings back to each light, previewed."""

from __future__ import annotations

from devices.models import Device, Scene


def make_scene(home, light):
    other = Device.objects.create(home=home, name="Porch", thing_name="sl-0000000e0001")
    return Scene.objects.create(home=home, name="Evening", states={
        light.thing_name: {"on": True, "brightness": 255, "color": "#ff0000"},
        other.thing_name: {"on": False}})


def edit_form(scene, light, **overrides):
    data = {"name": "Late evening"}
    for thing in scene.states:
        data.update({f"keep-{thing}": "on", f"on-{thing}": "on", f"brightness-{thing}": "50",
                     f"white-{thing}": "", f"color-{thing}": "#0000ff"})
    data.update(overrides)
    return data


def test_the_edit_page_previews_each_lights_look_in_words(client_for, bob, home, light):
    scene = make_scene(home, light)
    page = client_for(bob).get(f"/scenes/{scene.code}/").content.decode()
    assert "Brings back: shows on · 100 % · Red" in page
    assert "Brings back: shows off" in page
    assert 'data-strip="linear-gradient(90deg, #ff0000, #ff0000)"' in page


def test_a_member_renames_a_scene_changes_a_look_and_leaves_a_light_out(
    client_for, bob, home, light
):
    scene = make_scene(home, light)
    response = client_for(bob).post(f"/scenes/{scene.code}/", edit_form(
        scene, light, **{f"white-{light.thing_name}": "2700", "keep-sl-0000000e0001": ""}))
    assert response.status_code == 302
    scene.refresh_from_db()
    assert scene.name == "Late evening"
    assert scene.states == {light.thing_name: {"on": True, "brightness": 128,
                                               "color_temp_k": 2700}}


def test_a_bad_colour_is_refused_and_nothing_is_saved(client_for, bob, home, light):
    scene = make_scene(home, light)
    before = dict(scene.states)
    response = client_for(bob).post(f"/scenes/{scene.code}/", edit_form(
        scene, light, **{f"color-{light.thing_name}": "red"}))
    assert response.status_code == 422
    assert "color" in response.content.decode()
    scene.refresh_from_db()
    assert (scene.name, scene.states) == ("Evening", before)


def test_a_taken_name_is_refused(client_for, bob, home, light):
    scene = make_scene(home, light)
    Scene.objects.create(home=home, name="Late evening", states={})
    response = client_for(bob).post(f"/scenes/{scene.code}/", edit_form(scene, light))
    assert response.status_code == 409
    scene.refresh_from_db()
    assert scene.name == "Evening"


def test_viewers_and_other_homes_cannot_edit_a_scene(client_for, vera, charlie, home, light):
    scene = make_scene(home, light)
    assert client_for(vera).get(f"/scenes/{scene.code}/").status_code == 403
    assert client_for(vera).post(f"/scenes/{scene.code}/", edit_form(scene, light)
                                 ).status_code == 403
    assert client_for(charlie).get(f"/scenes/{scene.code}/").status_code == 404
    scene.refresh_from_db()
    assert scene.name == "Evening"
