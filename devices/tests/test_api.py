from __future__ import annotations

import json

import pytest

from accounts.models import ApiToken
from devices.models import Device, Room, Scene
from devices.tests.conftest import live_shadow, register_thing
from smartlight import contract


@pytest.fixture
def api(client_for):
    """api(user).get/patch/post(...) with JSON bodies, signed in through the session."""

    class Api:
        def __init__(self, user):
            self.client = client_for(user)

        def __getattr__(self, method):
            def call(path, body=None, **extra):
                kwargs = {}
                if body is not None:
                    kwargs = {"data": json.dumps(body), "content_type": "application/json"}
                return getattr(self.client, method)(f"/api/v1{path}", **kwargs, **extra)

            return call

    return Api


@pytest.fixture
def shadowed(aws, light):
    register_thing(aws, light.thing_name)
    return light


def test_it_lists_only_my_homes_lights(api, alice, light, charlies_light):
    response = api(alice).get("/devices")
    assert response.status_code == 200
    assert [d["thing_name"] for d in response.json()] == [light.thing_name]
    first = response.json()[0]
    assert first["room"] == str(light.room.code) and first["pending"] == {}
    assert first["effects"] == ["solid", "rainbow", "breathe"]


def test_it_filters_the_list_by_home(api, charlie, charlies_light, light):
    response = api(charlie).get(f"/devices?home={light.home.code}")
    assert response.json() == []


def test_it_shows_a_light_to_a_viewer(api, vera, light):
    response = api(vera).get(f"/devices/{light.code}")
    assert response.status_code == 200 and response.json()["name"] == "Sofa strip"


def test_other_homes_lights_are_not_found(api, charlie, light):
    assert api(charlie).get(f"/devices/{light.code}").status_code == 404
    assert api(charlie).patch(f"/devices/{light.code}/state", {"on": False}).status_code == 404
    assert api(charlie).patch(f"/devices/{light.code}", {"name": "x"}).status_code == 404
    assert api(charlie).delete(f"/devices/{light.code}").status_code == 404
    assert api(charlie).get("/devices/not-a-uuid").status_code in (404, 422)


def test_a_member_changes_a_light(api, bob, shadowed):
    response = api(bob).patch(f"/devices/{shadowed.code}/state",
                              {"on": False, "color": "#00FF00", "brightness": 12})
    assert response.status_code == 200
    assert response.json()["pending"] == {"on": False, "color": "#00ff00", "brightness": 12}
    assert live_shadow_state(shadowed) == {"on": False, "color": "#00ff00", "brightness": 12}
    shadowed.refresh_from_db()
    assert shadowed.desired == {"on": False, "color": "#00ff00", "brightness": 12}


def test_a_member_sets_a_warm_white_and_back_to_a_colour(api, bob, shadowed):
    # Given the light shows red
    api(bob).patch(f"/devices/{shadowed.code}/state", {"color": "#ff0000"})
    # When a warm white is asked: the colour is cleared in the shadow, the white wins
    response = api(bob).patch(f"/devices/{shadowed.code}/state", {"color_temp_k": 2700})
    assert response.status_code == 200
    assert live_shadow_state(shadowed) == {"color_temp_k": 2700}
    shadowed.refresh_from_db()
    assert shadowed.desired == {"on": True, "color_temp_k": 2700}
    assert shadowed.look["color_temp_k"] == 2700
    # When a colour is asked again: the temperature is cleared
    api(bob).patch(f"/devices/{shadowed.code}/state", {"color": "#0000ff"})
    assert live_shadow_state(shadowed) == {"color": "#0000ff"}
    shadowed.refresh_from_db()
    assert "color_temp_k" not in shadowed.look


def test_a_temperature_outside_the_range_is_422_and_changes_nothing(api, bob, shadowed):
    response = api(bob).patch(f"/devices/{shadowed.code}/state", {"color_temp_k": 9000})
    assert response.status_code == 422
    assert "color_temp_k" in response.content.decode()
    shadowed.refresh_from_db()
    assert shadowed.desired == {"on": True}


def live_shadow_state(device):
    from smartlight import aws

    return live_shadow(aws, device.thing_name)["state"]["desired"]


def test_a_viewer_cannot_change_a_light(api, vera, shadowed):
    response = api(vera).patch(f"/devices/{shadowed.code}/state", {"on": False})
    assert response.status_code == 403
    shadowed.refresh_from_db()
    assert shadowed.desired == {"on": True}


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"color": "blue"}, "color", "#rrggbb"),
        ({"brightness": 300}, "brightness", "255"),
        ({"brightness": "100"}, "brightness", "whole number"),
        ({"effect": "disco"}, "effect", "not an effect of this light"),
        ({"on": None}, "on", "true or false"),
        ({"sparkle": True}, "sparkle", "not a desired key"),
        ({}, "desired", "nothing to change"),
    ],
)
def test_bad_state_is_422_with_field_and_reason_and_changes_nothing(api, bob, shadowed, body,
                                                                    field, reason):
    response = api(bob).patch(f"/devices/{shadowed.code}/state", body)
    assert response.status_code == 422, response.content
    (error,) = response.json()["detail"]
    assert error["loc"][-1] == field and reason in error["msg"]
    shadowed.refresh_from_db()
    assert shadowed.desired == {"on": True}
    from devices import shadow

    with pytest.raises(shadow.ShadowNotFound):
        shadow.get_shadow(shadowed.thing_name)


def test_an_unreachable_shadow_service_is_503_and_changes_nothing(api, bob, light, settings):
    from smartlight import aws

    settings.AWS_MODE = "local"
    settings.IOT_DATA_ENDPOINT_URL = "http://127.0.0.1:9"
    aws.reset_clients()
    try:
        response = api(bob).patch(f"/devices/{light.code}/state", {"on": False})
    finally:
        aws.reset_clients()
    assert response.status_code == 503
    light.refresh_from_db()
    assert light.desired == {"on": True}


def test_a_personal_token_works_without_a_session(client, bob, shadowed):
    _, raw = ApiToken.issue(bob, "script")
    response = client.patch(
        f"/api/v1/devices/{shadowed.code}/state", data=json.dumps({"speed": 9}),
        content_type="application/json", headers={"authorization": f"Bearer {raw}"},
    )
    assert response.status_code == 200
    assert live_shadow_state(shadowed) == {"speed": 9}


def test_anonymous_callers_are_refused(client, light):
    assert client.get("/api/v1/devices").status_code == 401


def test_a_member_renames_and_moves_a_light(api, bob, light, home):
    kitchen = Room.objects.create(home=home, name="Kitchen")
    body = {"name": "Shelf", "room": str(kitchen.code)}
    response = api(bob).patch(f"/devices/{light.code}", body)
    assert response.status_code == 200
    light.refresh_from_db()
    assert light.name == "Shelf" and light.room == kitchen


def test_a_light_cannot_move_to_another_homes_room(api, alice, light, charlies_home):
    elsewhere = Room.objects.create(home=charlies_home, name="Garage")
    response = api(alice).patch(f"/devices/{light.code}", {"room": str(elsewhere.code)})
    assert response.status_code == 422
    light.refresh_from_db()
    assert light.room.name == "Living room"


def test_only_the_owner_deletes_a_light(api, alice, bob, light):
    assert api(bob).delete(f"/devices/{light.code}").status_code == 403
    assert api(alice).delete(f"/devices/{light.code}").status_code == 204
    assert not Device.objects.filter(pk=light.pk).exists()


def test_rooms_are_listed_created_renamed_and_deleted(api, bob, vera, light, home):
    assert [r["name"] for r in api(vera).get("/rooms").json()] == ["Living room"]
    created = api(bob).post("/rooms", {"name": "Hall"})
    assert created.status_code == 201
    code = created.json()["code"]
    assert api(bob).post("/rooms", {"name": "Hall"}).status_code == 422
    assert api(bob).patch(f"/rooms/{code}", {"name": "Hallway"}).json()["name"] == "Hallway"
    assert api(bob).delete(f"/rooms/{code}").status_code == 204
    assert list(Room.objects.filter(home=home).values_list("name", flat=True)) == ["Living room"]


@pytest.mark.parametrize(("sent", "answer"), [
    (" Hall\n", (201, "Hall")),  # trimmed, as the portal's form trims
    ("H" * 100, (201, "H" * 100)),
    (" " + "H" * 100, (422, "string_too_long")),  # the documented maxLength is of what is sent
    ("   ", (422, "must not be blank")),
    ("Ha\x00ll", (422, "control characters")),
])
def test_a_room_name_is_checked_as_the_schema_says_then_trimmed(api, bob, home, sent, answer):
    response = api(bob).post("/rooms", {"name": sent})
    status, said = answer
    assert response.status_code == status, response.content
    if status == 201:
        assert response.json()["name"] == said
    else:
        (error,) = response.json()["detail"]
        assert error["loc"][-1] == "name" and said in error["type"] + error["msg"]
        assert not Room.objects.filter(home=home).exclude(name="Living room").exists()


def test_a_viewer_cannot_touch_rooms(api, vera, light):
    assert api(vera).post("/rooms", {"name": "Attic"}).status_code == 403
    assert api(vera).delete(f"/rooms/{light.room.code}").status_code == 403
    assert api(vera).patch(f"/rooms/{light.room.code}/state", {"on": False}).status_code == 403
    assert Room.objects.count() == 1


def test_other_homes_rooms_are_not_found(api, charlie, light):
    room = light.room
    assert api(charlie).get(f"/rooms/{room.code}").status_code == 404
    assert api(charlie).delete(f"/rooms/{room.code}").status_code == 404
    body = {"name": "x", "home": str(room.home.code)}
    assert api(charlie).post("/rooms", body).status_code == 404
    assert api(charlie).get("/rooms").json() == []


def test_a_room_switches_all_its_lights(api, bob, aws, light, home):
    other = Device.objects.create(home=home, room=light.room, name="Lamp",
                                  thing_name="sl-0000000000a2")
    for d in (light, other):
        register_thing(aws, d.thing_name)
    response = api(bob).patch(f"/rooms/{light.room.code}/state", {"on": False, "brightness": 40})
    assert response.status_code == 200 and response.json()["failed"] == {}
    assert live_shadow_state(light) == live_shadow_state(other) == {"on": False, "brightness": 40}


def test_scenes_save_the_current_look_and_apply_it(api, bob, aws, shadowed, home):
    response = api(bob).post("/scenes", {"name": "Evening", "devices": [str(shadowed.code)]})
    assert response.status_code == 201
    scene = response.json()
    assert scene["states"] == {shadowed.thing_name: {
        "on": True, "brightness": 200, "color": "#ff8800", "effect": "solid", "speed": 128}}
    assert [s["name"] for s in api(bob).get("/scenes").json()] == ["Evening"]
    applied = api(bob).post(f"/scenes/{scene['code']}/apply")
    assert applied.status_code == 200
    assert applied.json() == {"changed": [str(shadowed.code)], "failed": {}}
    assert live_shadow_state(shadowed)["color"] == "#ff8800"


def test_a_scene_with_a_foreign_light_is_refused(api, alice, light, charlies_light):
    response = api(alice).post(
        "/scenes", {"name": "Sneaky", "devices": [str(light.code), str(charlies_light.code)]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "devices"
    assert not Scene.objects.exists()


def test_other_homes_scenes_are_not_found_and_viewers_cannot_apply(api, charlie, vera, light):
    scene = Scene.objects.create(home=light.home, name="Night", states={})
    assert api(charlie).get(f"/scenes/{scene.code}").status_code == 404
    assert api(charlie).post(f"/scenes/{scene.code}/apply").status_code == 404
    assert api(vera).post(f"/scenes/{scene.code}/apply").status_code == 403
    assert api(vera).post("/scenes", {"name": "V", "devices": [str(light.code)]}).status_code == 403
    assert api(vera).delete(f"/scenes/{scene.code}").status_code == 403
    assert Scene.objects.count() == 1


def test_every_bad_field_is_listed_at_once(api, bob, shadowed):
    response = api(bob).patch(f"/devices/{shadowed.code}/state",
                              {"brightness": 300, "color": "blue"})
    assert response.status_code == 422
    assert sorted(e["loc"][-1] for e in response.json()["detail"]) == ["brightness", "color"]


def test_a_body_that_is_not_an_object_is_refused(api, bob, shadowed):
    response = api(bob).patch(f"/devices/{shadowed.code}/state", [1, 2])
    assert response.status_code == 422
    shadowed.refresh_from_db()
    assert shadowed.desired == {"on": True}


def test_the_openapi_document_describes_the_device_endpoints(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/devices/{code}/state" in paths
    assert "/api/v1/scenes/{code}/apply" in paths
    body = paths["/api/v1/devices/{code}/state"]["patch"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    assert schema["properties"]["brightness"] == {"type": "integer", "minimum": 0, "maximum": 255}


@pytest.mark.parametrize("path", ["/api/v1/devices/{code}/state", "/api/v1/rooms/{code}/state"])
def test_the_advertised_state_schema_admits_exactly_what_the_contract_admits(client, path):
    """Every value of the contract's table: the OpenAPI schema (matched as JSON Schema says,
    by jsonschema_rs) and the validator agree. Only the light's own effect list is not in the
    schema (it differs per light); there the name's form is what both check."""
    import jsonschema_rs

    from smartlight.tests.contract_table import VALUES

    body = client.get("/api/v1/openapi.json").json()["paths"][path]["patch"]["requestBody"]
    validator = jsonschema_rs.validator_for(body["content"]["application/json"]["schema"])
    for case in VALUES:
        document = {case["key"]: case["value"]}
        try:
            contract.validate_desired(document)
            admitted = True
        except contract.InvalidState:
            admitted = False
        assert validator.is_valid(document) is admitted, document
    assert not validator.is_valid({})


@pytest.fixture
def alices_objects(light, home):
    scene = Scene.objects.create(home=home, name="Night", states={light.thing_name: {}})
    return {"device": light.code, "room": light.room.code, "scene": scene.code}


OBJECT_ENDPOINTS = [
    ("get", "/devices/{device}", None),
    ("patch", "/devices/{device}/state", {"on": False}),
    ("patch", "/devices/{device}", {"name": "Mine now"}),
    ("delete", "/devices/{device}", None),
    ("get", "/rooms/{room}", None),
    ("patch", "/rooms/{room}", {"name": "Mine now"}),
    ("patch", "/rooms/{room}/state", {"on": False}),
    ("delete", "/rooms/{room}", None),
    ("get", "/scenes/{scene}", None),
    ("post", "/scenes/{scene}/apply", None),
    ("delete", "/scenes/{scene}", None),
]


def snapshot() -> dict[str, list[dict]]:
    """Every field of every light, room and scene: what a refused request must leave as is."""
    return {model.__name__: list(model.objects.order_by("pk").values())
            for model in (Device, Room, Scene)}


@pytest.mark.parametrize(("method", "path", "body"), OBJECT_ENDPOINTS)
def test_every_object_endpoint_hides_other_homes(api, charlie, charlies_light, alices_objects,
                                                 method, path, body):
    before = snapshot()
    response = getattr(api(charlie), method)(path.format(**alices_objects), body)
    assert response.status_code == 404
    assert snapshot() == before


def test_the_snapshot_sees_a_rename_and_a_scene_change(alices_objects):
    before = snapshot()
    Room.objects.filter(code=alices_objects["room"]).update(name="Mine now")
    assert snapshot() != before
    before = snapshot()
    Scene.objects.filter(code=alices_objects["scene"]).update(states={})
    assert snapshot() != before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/rooms", {"name": "Attic"}),
        ("/scenes", {"name": "Mine", "devices": ["{light}"]}),
        ("/scenes", {"name": "Mine", "devices": ["{charlies_light}"]}),
    ],
)
def test_creating_in_another_home_is_not_found_and_creates_nothing(
    api, charlie, charlies_light, light, path, body
):
    codes = {"light": str(light.code), "charlies_light": str(charlies_light.code)}
    body = {**body, "home": str(light.home.code)}
    if "devices" in body:
        body["devices"] = [code.format(**codes) for code in body["devices"]]
    before = snapshot()
    response = api(charlie).post(path, body)
    assert response.status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize(("method", "path", "body"),
                         [e for e in OBJECT_ENDPOINTS if e[0] != "get"])
def test_every_write_endpoint_refuses_a_viewer(api, vera, alices_objects, method, path, body):
    before = (Device.objects.count(), Room.objects.count(), Scene.objects.count())
    response = getattr(api(vera), method)(path.format(**alices_objects), body)
    assert response.status_code == 403
    assert (Device.objects.count(), Room.objects.count(), Scene.objects.count()) == before
    assert Device.objects.get(code=alices_objects["device"]).desired == {"on": True}


def test_lists_never_include_other_homes(api, charlie, alices_objects):
    client = api(charlie)
    assert client.get("/devices").json() == []
    assert client.get("/rooms").json() == []
    assert client.get("/scenes").json() == []


def test_the_device_list_query_count_does_not_grow(api, alice, home, light,
                                                  django_assert_max_num_queries):
    client = api(alice)
    Device.objects.bulk_create([
        Device(home=home, room=light.room, name=f"L{i}", thing_name=f"sl-{i + 900:012x}")
        for i in range(30)
    ])
    # 7: the per-address rate counter (and the sweep of expired ones), session, user, the
    # caller's roles, the ETag's aggregate, the devices (homes and rooms joined).
    with django_assert_max_num_queries(7):
        assert len(client.get("/devices").json()) == 31
