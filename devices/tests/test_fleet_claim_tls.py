"""A factory batch on localcloud with real TLS: the light provisions itself with the batch's
claim certificate, a household claims it with the printed code, removes it, and after a factory
reset the same light provisions itself again and is claimed again."""

from __future__ import annotations

import csv
import json
import uuid

import pytest
from django.core.management import call_command

from devices.models import Device
from devices.tests.stack import point_settings_at
from localcloud import mqtt
from localcloud.tests.test_fleet_provisioning import CREATE, REGISTER, Light
from localcloud.tests.tls import Bundle, TlsClient, write_bundle

pytestmark = pytest.mark.integration


@pytest.fixture
def local(cloud, settings, db):
    from smartlight import aws

    point_settings_at(cloud, settings)
    settings.IOT_SERVER_CA_FILE = str(cloud.ca_path)
    settings.IOT_MQTT_HOST = cloud.mqtts_host
    settings.IOT_MQTT_PORT = cloud.mqtts_port
    yield cloud
    aws.reset_clients()


def first_boot(cloud, bundle_dir, tmp_path, name: str) -> tuple[str, Bundle]:
    """What the firmware does with only a claim certificate: CreateKeysAndCertificate, then
    RegisterThing with its serial. Returns (thing name, its own certificate)."""
    config = json.loads((bundle_dir / "config.json").read_text())
    claim = Bundle(bundle_dir / "certs/claim.pem.crt", bundle_dir / "certs/claim.private.pem.key")
    light = Light(cloud, claim, f"factory-{uuid.uuid4().hex[:8]}")
    try:
        assert f"$aws/provisioning-templates/{config['template']}/provision/json" == REGISTER
        light.subscribe(CREATE + "/accepted", CREATE + "/rejected",
                        REGISTER + "/accepted", REGISTER + "/rejected")
        outcome, created = light.request(CREATE, {})
        assert outcome == "accepted", created
        outcome, registered = light.request(REGISTER, {
            "certificateOwnershipToken": created["certificateOwnershipToken"],
            "parameters": {"SerialNumber": config["serial"]},
        })
        assert outcome == "accepted", registered
    finally:
        light.close()
    own = write_bundle(tmp_path / name, "certificate", created["certificatePem"],
                       created["privateKey"], created["certificateId"])
    return registered["thingName"], own


def test_a_fleet_light_is_claimed_removed_reset_and_claimed_again(
        local, client_for, alice, bob, home, tmp_path, django_capture_on_commit_callbacks):
    call_command("provision_batch", "--count", "1", "--out", str(tmp_path / "batch"),
                 "--portal", "https://lights.example.com")
    with (tmp_path / "batch" / "lights.csv").open() as handle:
        (label,) = csv.DictReader(handle)
    bundle_dir = tmp_path / "batch" / label["serial"]

    # First boot: the light gets its own certificate and its thing.
    thing, own = first_boot(local, bundle_dir, tmp_path, "first")
    assert thing == label["thing"]
    assert TlsClient(local, thing, own).code == mqtt.ACCEPTED

    # A member claims it with the printed code.
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(bob).post("/api/v1/claims", {"code": label["claim_code"]},
                                         content_type="application/json")
    assert response.status_code == 201
    device = Device.objects.get(thing_name=thing)
    assert device.certificate_id == own.certificate_id
    iot = local.client("iot")
    assert iot.describe_thing(thingName=thing)["attributes"]["home"] == str(home.code)

    # The owner removes it: its certificate can no longer connect.
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(alice).delete(f"/api/v1/devices/{device.code}").status_code == 204
    assert TlsClient(local, thing, own).code != mqtt.ACCEPTED
    status = iot.describe_certificate(certificateId=own.certificate_id)
    assert status["certificateDescription"]["status"] == "INACTIVE"

    # After a factory reset it provisions itself again with the claim certificate ...
    again_thing, again = first_boot(local, bundle_dir, tmp_path, "again")
    assert again_thing == thing and again.certificate_id != own.certificate_id
    assert TlsClient(local, thing, again).code == mqtt.ACCEPTED
    # ... and its label's code adds it again.
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(alice).post("/api/v1/claims", {"code": label["claim_code"]},
                                          content_type="application/json")
    assert response.status_code == 201
    assert Device.objects.get(thing_name=thing).certificate_id == again.certificate_id
