"""The portal's light and room controls as a browser without the page's script posts them
(POST /lights/<code>/state/, /rooms/<code>/state/): back to the dashboard, which says what
happened. (With the script, the page uses the API: devices/tests/test_api.py.)"""

from __future__ import annotations

import pytest

from devices.models import Device
from devices.tests.conftest import live_shadow, register_thing


def messages_after(response) -> str:
    assert response.redirect_chain[-1][0] == "/"
    return response.content.decode()


@pytest.fixture
def shadowed(aws, light):
    register_thing(aws, light.thing_name)
    return light


def desired_in_aws(aws, device):
    return live_shadow(aws, device.thing_name)["state"]["desired"]


def test_a_member_switches_a_light_and_sets_brightness_in_percent(client_for, bob, aws,
                                                                 shadowed):
    url = f"/lights/{shadowed.code}/state/"
    response = client_for(bob).post(url, {"on": "false", "brightness": "50"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert desired_in_aws(aws, shadowed) == {"on": False, "brightness": 128}
    shadowed.refresh_from_db()
    assert set(shadowed.pending) == {"brightness", "on"}


def test_colour_effect_and_speed_are_sent_as_given(client_for, bob, aws, shadowed):
    url = f"/lights/{shadowed.code}/state/"
    client_for(bob).post(url, {"color": "#00aaff", "effect": "rainbow", "speed": "200"})
    assert desired_in_aws(aws, shadowed) == {"color": "#00aaff", "effect": "rainbow",
                                             "speed": 200}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"color": "blue"}, "color"),
        ({"brightness": "300"}, "brightness"),
        ({"effect": "disco"}, "effect"),
        ({"on": "maybe"}, "on"),
        ({}, "desired"),
    ],
)
def test_bad_input_is_refused_with_the_field_and_changes_nothing(client_for, bob, aws,
                                                                 shadowed, data, field):
    response = client_for(bob).post(f"/lights/{shadowed.code}/state/", data, follow=True)
    assert f'<li class="msg msg-error">{field}: ' in messages_after(response)
    shadowed.refresh_from_db()
    assert shadowed.desired == {"on": True}
    assert "desired" not in live_shadow_or_empty(aws, shadowed)


def live_shadow_or_empty(aws, device):
    from devices import shadow

    try:
        return shadow.get_shadow(device.thing_name)["state"]
    except shadow.ShadowNotFound:
        return {}


def test_without_javascript_it_redirects_with_a_message(client_for, bob, aws, shadowed):
    response = client_for(bob).post(f"/lights/{shadowed.code}/state/", {"color": "blue"},
                                    follow=True)
    assert response.redirect_chain[-1][0] == "/"
    assert "color" in response.content.decode()


def test_a_viewer_cannot_change_a_light(client_for, vera, aws, shadowed):
    response = client_for(vera).post(f"/lights/{shadowed.code}/state/", {"on": "false"})
    assert response.status_code == 403
    assert live_shadow_or_empty(aws, shadowed) == {}


def test_another_homes_light_is_not_found(client_for, charlie, aws, shadowed):
    response = client_for(charlie).post(f"/lights/{shadowed.code}/state/", {"on": "false"})
    assert response.status_code == 404
    assert live_shadow_or_empty(aws, shadowed) == {}


def test_an_unreachable_shadow_service_is_reported_and_changes_nothing(client_for, bob, light,
                                                                      settings):
    from smartlight import aws

    settings.IOT_DATA_ENDPOINT_URL = "http://127.0.0.1:9"
    aws.reset_clients()
    try:
        response = client_for(bob).post(f"/lights/{light.code}/state/", {"on": "false"},
                                        follow=True)
    finally:
        aws.reset_clients()
    assert "light: " in messages_after(response) and "unreachable" in response.content.decode()
    light.refresh_from_db()
    assert light.desired == {"on": True}


def test_a_room_switch_reaches_every_light_of_the_room(client_for, bob, aws, shadowed, home):
    lamp = Device.objects.create(home=home, room=shadowed.room, name="Lamp",
                                 thing_name="sl-0000000000a2")
    outside = Device.objects.create(home=home, name="Porch", thing_name="sl-0000000000a3")
    for device in (lamp, outside):
        register_thing(aws, device.thing_name)
    response = client_for(bob).post(f"/rooms/{shadowed.room.code}/state/",
                                    {"on": "false", "brightness": "10"}, follow=True)
    assert "msg-error" not in messages_after(response)
    assert desired_in_aws(aws, shadowed) == desired_in_aws(aws, lamp) == {
        "on": False, "brightness": 26}
    assert live_shadow_or_empty(aws, outside) == {}


def test_a_viewer_cannot_switch_a_room_and_others_get_404(client_for, vera, charlie, aws,
                                                         shadowed):
    url = f"/rooms/{shadowed.room.code}/state/"
    assert client_for(vera).post(url, {"on": "false"}).status_code == 403
    assert client_for(charlie).post(url, {"on": "false"}).status_code == 404
    assert live_shadow_or_empty(aws, shadowed) == {}


def test_a_bad_room_request_changes_no_light(client_for, bob, aws, shadowed, home):
    response = client_for(bob).post(f"/rooms/{shadowed.room.code}/state/",
                                    {"color": "blue", "on": "true"}, follow=True)
    assert '<li class="msg msg-error">color: ' in messages_after(response)
    assert live_shadow_or_empty(aws, shadowed) == {}


def test_an_effect_one_light_lacks_fails_only_for_that_light(client_for, bob, aws, shadowed,
                                                            home):
    plain = Device.objects.create(home=home, room=shadowed.room, name="Plain",
                                  thing_name="sl-0000000000a4", reported={"effects": ["solid"]})
    register_thing(aws, plain.thing_name)
    response = client_for(bob).post(f"/rooms/{shadowed.room.code}/state/",
                                    {"effect": "rainbow"}, follow=True)
    assert '<li class="msg msg-error">Plain: ' in messages_after(response)
    assert desired_in_aws(aws, shadowed) == {"effect": "rainbow"}
    assert live_shadow_or_empty(aws, plain) == {}
