"""The same failure says the same in the portal and the API: the API's status comes from the
exception (contract.InvalidState, shadow.ShadowError subclasses, RoomNameTaken), mapped once, and
a form posted without the page's script shows the same reason on the page it returns to."""

from __future__ import annotations

import html
import json
import re

import pytest

from devices import shadow
from devices.models import Room
from devices.tests.conftest import live_shadow, register_thing


def portal_errors(response) -> list[str]:
    """The error messages on the page a form post returned to (field: reason)."""
    return re.findall(r'<li class="msg msg-error">([^<]*)</li>', response.content.decode())


def _api(client, method: str, path: str, body: dict):
    return getattr(client, method)(f"/api/v1{path}", data=json.dumps(body),
                                   content_type="application/json")


def test_a_light_that_never_connected_is_409_in_the_portal_and_the_api(client_for, bob, aws,
                                                                        light):
    # Not in the IoT registry: the data plane has no shadow for it (AWS answers 404).
    client = client_for(bob)
    portal = client.post(f"/lights/{light.code}/state/", {"on": "false"}, follow=True)
    api = _api(client, "patch", f"/devices/{light.code}/state", {"on": False})
    assert api.status_code == 409 and "never connected" in api.json()["detail"]
    assert portal_errors(portal) == [html.escape("light: " + api.json()["detail"])]
    light.refresh_from_db()
    assert light.desired == {"on": True}


def test_a_bad_colour_is_422_naming_the_field_in_the_portal_and_the_api(client_for, bob, aws,
                                                                         light):
    register_thing(aws, light.thing_name)
    client = client_for(bob)
    portal = client.post(f"/lights/{light.code}/state/", {"color": "#ff8800\n"}, follow=True)
    api = _api(client, "patch", f"/devices/{light.code}/state", {"color": "#ff8800\n"})
    assert api.status_code == 422
    assert api.json()["detail"][0]["loc"] == ["body", "payload", "color"]
    assert portal_errors(portal) == [html.escape("color: " + api.json()["detail"][0]["msg"])]
    with pytest.raises(shadow.ShadowNotFound):  # nothing was ever written
        shadow.get_shadow(light.thing_name)


def test_an_upper_case_colour_is_stored_lower_case_by_both(client_for, bob, aws, light):
    register_thing(aws, light.thing_name)
    client = client_for(bob)
    assert client.post(f"/lights/{light.code}/state/", {"color": "#AABBCC"}).status_code == 302
    assert live_shadow(aws, light.thing_name)["state"]["desired"] == {"color": "#aabbcc"}
    assert _api(client, "patch", f"/devices/{light.code}/state",
                {"color": "#DDEEFF"}).status_code == 200
    assert live_shadow(aws, light.thing_name)["state"]["desired"] == {"color": "#ddeeff"}


@pytest.mark.parametrize("taken", ["Living room", "living ROOM"])
def test_room_names_are_unique_whatever_their_case_in_the_portal_and_the_api(
    client_for, bob, home, light, taken,
):
    client = client_for(bob)
    api = _api(client, "post", "/rooms", {"name": taken.swapcase()})
    assert api.status_code == 422
    assert api.json()["detail"] == [{"type": "value_error", "loc": ["body", "payload", "name"],
                                     "msg": "This home already has a room of that name."}]
    portal = client.post("/rooms/", {"name": taken}, follow=True)
    assert "This home already has a room of that name." in portal.content.decode()
    assert list(home.rooms.values_list("name", flat=True)) == ["Living room"]


def test_renaming_a_room_onto_another_in_any_case_is_refused_by_both(client_for, bob, home,
                                                                      light):
    kitchen = Room.objects.create(home=home, name="Kitchen")
    client = client_for(bob)
    api = _api(client, "patch", f"/rooms/{kitchen.code}", {"name": "LIVING room"})
    portal = client.post(f"/rooms/{kitchen.code}/", {"name": "living Room"})
    assert api.status_code == 422 and portal.status_code == 400
    assert "This home already has a room of that name." in portal.content.decode()
    kitchen.refresh_from_db()
    assert kitchen.name == "Kitchen"
    # Changing only the case of its own name is a rename, not a clash.
    assert _api(client, "patch", f"/rooms/{kitchen.code}", {"name": "KITCHEN"}).status_code == 200
    kitchen.refresh_from_db()
    assert kitchen.name == "KITCHEN"


def test_the_database_itself_refuses_a_room_name_in_another_case(home):
    from django.db import IntegrityError, transaction

    Room.objects.create(home=home, name="Hall")
    with pytest.raises(IntegrityError), transaction.atomic():
        Room.objects.create(home=home, name="HALL")
