"""Removing a light (portal, API, admin) and the operators' certificate tools."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError
from django.utils import timezone

from accounts.models import User
from devices import claims
from devices.models import Device, RetiredThing, Serial
from devices.tests.conftest import certificates, cookie_things, policies_of
from devices.tests.test_claims import CODE, claim, provisioned
from smartlight import aws

THING = "sl-0123456789ab"


@pytest.fixture
def claimed(client_for, alice, home, iot, django_capture_on_commit_callbacks):
    """A fleet light that provisioned itself, was claimed into alice's home and reported."""
    Serial.objects.create(serial=THING[3:], method="fleet", code_hash=claims.code_hash(CODE),
                          code_expires=timezone.now() + timedelta(days=30))
    certificate_id = provisioned(iot, THING)
    aws.client("iot-data").update_thing_shadow(
        thingName=THING, payload=json.dumps({"state": {"reported": {"on": True}}}))
    with django_capture_on_commit_callbacks(execute=True):
        assert claim(client_for(alice)).status_code == 201
    device = Device.objects.get(thing_name=THING)
    assert device.certificate_id == certificate_id
    return device


def assert_retired(iot, certificate_id):
    assert not iot.list_things()["things"]
    assert certificates(iot) == {certificate_id: "INACTIVE"}
    arn = iot.describe_certificate(
        certificateId=certificate_id)["certificateDescription"]["certificateArn"]
    assert policies_of(iot, arn) == []
    with pytest.raises(ClientError) as shadow_gone:
        aws.client("iot-data").get_thing_shadow(thingName=THING)
    assert shadow_gone.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert not RetiredThing.objects.exists()


def test_the_owner_removes_a_light_through_the_api_and_its_identity_goes(
        client_for, alice, bob, home, claimed, iot, settings,
        django_capture_on_commit_callbacks):
    assert cookie_things(bob) == [THING]
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(alice).delete(f"/api/v1/devices/{claimed.code}")
    assert response.status_code == 204
    assert not Device.objects.exists()
    assert_retired(iot, claimed.certificate_id)
    assert cookie_things(alice) == cookie_things(bob) == []
    # The serial is re-armed: the hook admits the light again and its label works again.
    item = aws.client("dynamodb").get_item(TableName=settings.SERIALS_TABLE,
                                           Key={"serial": {"S": THING[3:]}})["Item"]
    assert item["status"]["S"] == "made"
    serial = Serial.objects.get()
    assert serial.device is None and serial.claimed is None


def test_a_removed_fleet_light_provisions_and_is_claimed_again(
        client_for, alice, charlie, home, charlies_home, claimed, iot,
        django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client_for(alice).post(f"/lights/{claimed.code}/delete/")
    # After a factory reset the light runs fleet provisioning again with its claim certificate.
    new_certificate = provisioned(iot, THING)
    with django_capture_on_commit_callbacks(execute=True):
        response = claim(client_for(charlie))
    assert response.status_code == 201
    device = Device.objects.get(thing_name=THING)
    assert device.home == charlies_home and device.certificate_id == new_certificate
    assert cookie_things(charlie) == [THING]
    assert cookie_things(alice) == []


def test_members_viewers_and_outsiders_cannot_remove_a_light(client_for, bob, vera, charlie,
                                                             claimed, iot):
    for user, status in ((bob, 403), (vera, 403), (charlie, 404)):
        assert client_for(user).delete(f"/api/v1/devices/{claimed.code}").status_code == status
        assert client_for(user).post(f"/lights/{claimed.code}/delete/").status_code == status
    assert Device.objects.filter(pk=claimed.pk).exists()
    assert certificates(iot) == {claimed.certificate_id: "ACTIVE"}
    assert iot.describe_thing(thingName=THING)


def test_an_aws_failure_keeps_the_retirement_until_a_retry_succeeds(
        client_for, alice, claimed, iot, monkeypatch, django_capture_on_commit_callbacks):
    from devices import provisioning
    from devices.actions import RETIRED_MIRROR
    from smartlight import outbox

    real = provisioning.retire_thing

    def outage(thing_name):
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}},
                          "DeleteThing")

    monkeypatch.setattr(provisioning, "retire_thing", outage)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(alice).delete(f"/api/v1/devices/{claimed.code}")
    assert response.status_code == 204
    assert not Device.objects.exists()
    entry = RetiredThing.objects.get()
    assert entry.thing_name == THING and entry.attempts == 1 and "down" in entry.last_error
    # Claiming the light again waits for its old identity to be gone.
    assert claim(client_for(alice)).status_code == 409

    monkeypatch.setattr(provisioning, "retire_thing", real)
    assert outbox.flush(RETIRED_MIRROR) == 0
    assert_retired(iot, claimed.certificate_id)


def test_retiring_twice_is_harmless(claimed, iot):
    from devices import provisioning

    provisioning.retire_thing(THING)
    provisioning.retire_thing(THING)
    assert certificates(iot) == {claimed.certificate_id: "INACTIVE"}


# --- admin ------------------------------------------------------------------------------------
@pytest.fixture
def operator_client(db):
    from django.test import Client

    client = Client()  # its own session: the fixtures sign people in on `client`
    operator = User.objects.create_superuser("ops@example.com", "pw")
    client.force_login(operator, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_the_admin_removes_a_light_the_same_way(operator_client, alice, claimed, iot,
                                                django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(f"/admin/devices/device/{claimed.pk}/delete/",
                                        {"post": "yes"})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert not Device.objects.exists()
    assert_retired(iot, claimed.certificate_id)
    assert cookie_things(alice) == []


def test_operators_revoke_a_certificate_from_the_admin(operator_client, claimed, iot):
    response = operator_client.post(f"/admin/devices/device/{claimed.pk}/command/revoke/")
    assert response.status_code == 302
    assert certificates(iot) == {claimed.certificate_id: "REVOKED"}
    page = operator_client.get(f"/admin/devices/device/{claimed.pk}/change/").content.decode()
    assert claimed.certificate_id in page and "REVOKED" in page


def test_the_admin_shows_method_certificate_and_claim_but_never_codes(operator_client, claimed,
                                                                      iot):
    page = operator_client.get("/admin/devices/device/").content.decode()
    assert "fleet provisioning by claim" in page
    assert claimed.certificate_id[:10] in page
    assert "claimed " in page and THING[3:] in page
    change = operator_client.get(f"/admin/devices/device/{claimed.pk}/change/").content.decode()
    assert "ACTIVE" in change
    Serial.objects.create(serial="00000000beef", method="fleet", code_hash="f" * 64,
                          code_expires=claimed.created)
    serials = operator_client.get("/admin/devices/serial/?claimed__isempty=1").content.decode()
    assert "00000000beef" in serials and THING[3:] not in serials
    for page in (serials, operator_client.get(
            f"/admin/devices/serial/{Serial.objects.get(serial='00000000beef').pk}/change/"
    ).content.decode()):
        assert CODE not in page and "f" * 64 not in page


def test_adding_or_moving_a_light_in_the_admin_updates_iot_cookie(
        operator_client, alice, charlie, home, charlies_home, iot,
        django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post("/admin/devices/device/add/", {
            "name": "Hall lamp", "home": home.pk, "room": "", "thing_name": "sl-00000000a1f0"})
    assert response.status_code == 302, response.content.decode()[:2000]
    device = Device.objects.get(name="Hall lamp")
    assert device.thing_name == "sl-00000000a1f0"  # a JITP light, added by its thing name
    assert cookie_things(alice) == [device.thing_name]

    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post(f"/admin/devices/device/{device.pk}/change/", {
            "name": "Hall lamp", "home": charlies_home.pk, "room": ""})
    assert cookie_things(alice) == []
    assert cookie_things(charlie) == [device.thing_name]
