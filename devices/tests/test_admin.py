"""The operators' device admin: list columns and filters, the live shadow, the commands."""

from __future__ import annotations

import json

import pytest
from botocore.stub import Stubber
from django.contrib.messages import get_messages

from accounts.models import User
from devices.models import Device
from devices.tests.conftest import live_shadow, register_thing


@pytest.fixture
def operator(db):
    return User.objects.create_superuser("ops@example.com", "pw")


@pytest.fixture
def admin_client_(client, operator):
    client.force_login(operator, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_the_list_shows_home_room_presence_difference_and_firmware(admin_client_, light):
    light.desired = {"on": True, "brightness": 10}
    light.save()
    page = admin_client_.get("/admin/devices/device/").content.decode()
    for text in ("Sofa strip", "Alice&#x27;s Home", "Living room", "connected", "1.0.0",
                 "brightness: 200 → 10"):
        assert text in page


def test_the_list_filters_by_home_connected_and_firmware(admin_client_, light, charlies_light):
    charlies_light.connected = False
    charlies_light.fw = "0.9.0"
    charlies_light.save()
    by_connected = admin_client_.get("/admin/devices/device/?connected__exact=0")
    assert "Charlie&#x27;s lamp" in by_connected.content.decode()
    assert "Sofa strip" not in by_connected.content.decode()
    by_fw = admin_client_.get("/admin/devices/device/?fw=1.0.0").content.decode()
    assert "Sofa strip" in by_fw and "Charlie&#x27;s lamp" not in by_fw
    by_home = admin_client_.get(f"/admin/devices/device/?home__id__exact={light.home_id}")
    assert "Charlie&#x27;s lamp" not in by_home.content.decode()


def test_the_device_page_shows_the_live_shadow_beside_the_cached_one(admin_client_, aws, light):
    register_thing(aws, light.thing_name)
    aws.client("iot-data").update_thing_shadow(
        thingName=light.thing_name,
        payload=json.dumps({"state": {"reported": {"uptime_s": 4242}}}),
    )
    page = admin_client_.get(f"/admin/devices/device/{light.pk}/change/").content.decode()
    assert 'id="live-shadow"' in page and "4242" in page
    assert 'id="cached-shadow"' in page and "#ff8800" in page


def test_the_device_page_survives_an_unreachable_shadow_service(admin_client_, light, settings):
    from smartlight import aws

    settings.IOT_DATA_ENDPOINT_URL = "http://127.0.0.1:9"
    aws.reset_clients()
    try:
        response = admin_client_.get(f"/admin/devices/device/{light.pk}/change/")
    finally:
        aws.reset_clients()
    assert response.status_code == 200
    assert "unreachable" in response.content.decode()


def test_a_light_that_never_connected_says_so(admin_client_, aws, light):
    page = admin_client_.get(f"/admin/devices/device/{light.pk}/change/").content.decode()
    assert "never connected" in page


def test_refresh_replaces_the_cache_with_the_live_shadow(admin_client_, aws, light):
    register_thing(aws, light.thing_name)
    aws.client("iot-data").update_thing_shadow(
        thingName=light.thing_name,
        payload=json.dumps({"state": {"reported": {"on": False, "connected": False}}}),
    )
    response = admin_client_.post(
        f"/admin/devices/device/{light.pk}/command/refresh/", follow=True)
    assert f"Cached copy replaced by the live shadow for {light.thing_name}" in (
        response.content.decode())
    light.refresh_from_db()
    assert light.reported == {"on": False, "connected": False}
    assert light.connected is False and light.shadow_version == 1


def test_repush_writes_the_cached_desired_state_again(admin_client_, aws, light):
    register_thing(aws, light.thing_name)
    # a schedule's 15-minute wake-up fade is in the shadow already and is written again as is
    light.desired = {"on": True, "transition_ms": 900000}
    light.save()
    admin_client_.post("/admin/devices/device/", {
        "action": "repush_desired", "_selected_action": [light.pk]})
    assert live_shadow(aws, light.thing_name)["state"]["desired"] == {
        "on": True, "transition_ms": 900000}


def test_repushing_an_empty_desired_state_is_a_message_not_an_error(admin_client_, aws, light):
    register_thing(aws, light.thing_name)
    light.desired = {}
    light.save()
    response = admin_client_.post("/admin/devices/device/", {
        "action": "repush_desired", "_selected_action": [light.pk]}, follow=True)
    assert response.status_code == 200
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"{light.thing_name}: Re-push desired failed: desired: names nothing to change"]


@pytest.mark.parametrize("command", ["identify", "reboot"])
def test_commands_are_published_to_the_cmd_topic(admin_client_, aws, light, command):
    client = aws.client("iot-data")
    sent = {}
    def capture(params, **kwargs):
        sent.update(params)

    client.meta.events.register("provide-client-params.iot-data.Publish", capture)
    try:
        with Stubber(client) as stubber:
            stubber.add_response("publish", {})
            response = admin_client_.post(
                f"/admin/devices/device/{light.pk}/command/{command}/", follow=True)
    finally:
        client.meta.events.unregister("provide-client-params.iot-data.Publish", capture)
    assert sent["topic"] == f"smartlight/{light.thing_name}/cmd"
    assert json.loads(sent["payload"])["cmd"] == command
    assert f"command sent to {light.thing_name}" in response.content.decode()


def test_a_failed_command_is_reported_not_raised(admin_client_, aws, light):
    response = admin_client_.post(
        f"/admin/devices/device/{light.pk}/command/refresh/", follow=True)
    assert response.status_code == 200
    assert "failed" in response.content.decode()


def test_non_staff_users_cannot_reach_the_admin(client_for, alice, light):
    response = client_for(alice).get("/admin/devices/device/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert Device.objects.count() == 1


def test_the_command_buttons_post_forms_outside_the_change_form(admin_client_, aws, light):
    page = admin_client_.get(f"/admin/devices/device/{light.pk}/change/").content.decode()
    main_form_end = page.index("</form>", page.index('id="device_form"'))
    command_form = page.index('id="command-identify"')
    # HTML forms cannot nest: a command form inside the change form would never submit.
    assert command_form > main_form_end
    assert 'form="command-identify"' in page


def test_the_room_list_shows_every_homes_rooms_to_staff(admin_client_, light, charlies_home):
    from devices.models import Room

    Room.objects.create(home=charlies_home, name="Garage")
    response = admin_client_.get("/admin/devices/room/")
    assert response.status_code == 200
    page = response.content.decode()
    for text in ("Living room", "Alice&#x27;s Home", "Garage", "Charlie&#x27;s Home"):
        assert text in page


def test_the_room_list_filters_by_home(admin_client_, light, charlies_home):
    from devices.models import Room

    Room.objects.create(home=charlies_home, name="Garage")
    page = admin_client_.get(
        f"/admin/devices/room/?home__id__exact={charlies_home.pk}").content.decode()
    assert "Garage" in page and "Living room" not in page


def test_non_staff_users_cannot_see_rooms_in_the_admin(client_for, alice, light):
    response = client_for(alice).get("/admin/devices/room/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert "Living room" not in client_for(alice).get(response["Location"]).content.decode()


def test_staff_without_the_room_permission_are_forbidden(client_for, light):
    clerk = User.objects.create_user("clerk@example.com", "pw", is_staff=True)
    assert client_for(clerk).get("/admin/devices/room/").status_code == 403


@pytest.mark.parametrize("name", ["Desk\x00lamp", "Desk\nlamp", "\x1b[31mDesk"])
def test_an_operator_cannot_store_control_characters_in_a_name(admin_client_, light, name):
    # The models carry the portal's and the API's text rule, so the admin's forms refuse too
    url = f"/admin/devices/device/{light.pk}/change/"
    response = admin_client_.post(url, {"name": name, "home": light.home.pk,
                                        "room": light.room.pk})
    assert response.status_code == 200  # the form again, with the error
    (error,) = response.context["adminform"].form.errors["name"]
    assert "control characters" in error or "Null characters" in error  # Django's own, for NUL
    light.refresh_from_db()
    assert light.name == "Sofa strip"
    response = admin_client_.post(url, {"name": "Desk lamp", "home": light.home.pk,
                                        "room": light.room.pk})
    assert response.status_code == 302
    light.refresh_from_db()
    assert light.name == "Desk lamp"
