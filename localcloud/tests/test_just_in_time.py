"""Just-in-time provisioning and registration for lights whose certificates a maker's own CA
signed, as the AWS IoT developer guide describes them: the CA is registered with
auto-registration; on the first connection of one of its certificates IoT Core registers it and
drops the connection; JITP applies the CA's template right away, JITR publishes
`$aws/events/certificates/registered/<caCertificateId>` for a Lambda (lambda/jitr_handler.py)
to activate the certificate. The light's next connection succeeds.
"""

from __future__ import annotations

import json

import pytest

from localcloud import mqtt
from localcloud.cloud import DEVICE_POLICY
from localcloud.testing import eventually
from localcloud.tests.conftest import new_thing
from localcloud.tests.tls import DROPPED, MakerCA, TlsClient

JITP_TEMPLATE = {
    "Parameters": {
        "AWS::IoT::Certificate::CommonName": {"Type": "String"},
        "AWS::IoT::Certificate::Id": {"Type": "String"},
    },
    "Resources": {
        "thing": {
            "Type": "AWS::IoT::Thing",
            "Properties": {
                "ThingName": {"Ref": "AWS::IoT::Certificate::CommonName"},
                "ThingTypeName": "smartlight",
                "AttributePayload": {"provisioning": "jitp"},
            },
        },
        "certificate": {
            "Type": "AWS::IoT::Certificate",
            "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"},
                           "Status": "ACTIVE"},
        },
        "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": DEVICE_POLICY}},
    },
}


def register_ca(cloud, maker: MakerCA, *, template: dict | None = None,
                auto_registration: bool = True, active: bool = True) -> str:
    kwargs = {}
    if template is not None:
        kwargs["registrationConfig"] = {
            "templateBody": json.dumps(template),
            "roleArn": "arn:aws:iam::123456789012:role/smartlight-jitp",
        }
    return cloud.client("iot").register_ca_certificate(
        caCertificate=maker.pem, setAsActive=active,
        allowAutoRegistration=auto_registration, **kwargs)["certificateId"]


def attempt(cloud, thing, bundle) -> int | str:
    client = TlsClient(cloud, thing, bundle)
    client.close()
    return client.code


def certificate_of(cloud, thing):
    iot = cloud.client("iot")
    arns = iot.list_thing_principals(thingName=thing)["principals"]
    assert len(arns) == 1
    return iot.describe_certificate(certificateId=arns[0].rsplit("/", 1)[1])[
        "certificateDescription"]


def test_a_jitp_light_is_dropped_once_then_connects_with_its_thing_made(cloud, tmp_path):
    maker = MakerCA()
    register_ca(cloud, maker, template=JITP_TEMPLATE)
    thing = new_thing()
    bundle = maker.device(tmp_path, thing)

    assert attempt(cloud, thing, bundle) == DROPPED
    assert attempt(cloud, thing, bundle) == mqtt.ACCEPTED

    iot = cloud.client("iot")
    described = iot.describe_thing(thingName=thing)
    assert (described["thingTypeName"], described["attributes"]) == (
        "smartlight", {"provisioning": "jitp"})
    certificate = certificate_of(cloud, thing)
    assert certificate["status"] == "ACTIVE"
    assert [p["policyName"] for p in iot.list_attached_policies(
        target=certificate["certificateArn"])["policies"]] == [DEVICE_POLICY]


def test_a_jitp_light_is_controlled_like_any_other(cloud, tmp_path):
    maker = MakerCA()
    register_ca(cloud, maker, template=JITP_TEMPLATE)
    thing = new_thing()
    bundle = maker.device(tmp_path, thing)
    attempt(cloud, thing, bundle)
    device = TlsClient(cloud, thing, bundle)
    assert device.subscribe(f"$aws/things/{thing}/shadow/update/delta") == [1]

    cloud.client("iot-data").update_thing_shadow(
        thingName=thing, payload=json.dumps({"state": {"desired": {"brightness": 40}}}))

    assert device.expect(f"$aws/things/{thing}/shadow/update/delta")["state"] == {
        "brightness": 40}
    device.close()


def test_a_jitp_template_that_fails_leaves_no_thing(cloud, tmp_path):
    maker = MakerCA()
    broken = json.loads(json.dumps(JITP_TEMPLATE))
    broken["Resources"]["policy"]["Properties"]["PolicyName"] = "no-such-policy"
    register_ca(cloud, maker, template=broken)
    thing = new_thing()
    bundle = maker.device(tmp_path, thing)

    assert attempt(cloud, thing, bundle) == DROPPED
    assert attempt(cloud, thing, bundle) == mqtt.REFUSED_NOT_AUTHORIZED

    iot = cloud.client("iot")
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.describe_thing(thingName=thing)


def test_a_jitr_light_is_registered_announced_activated_by_the_lambda_and_connects(
        cloud, tmp_path, local_mqtt):
    maker = MakerCA()
    ca_id = register_ca(cloud, maker)
    events = local_mqtt()
    events.subscribe(f"$aws/events/certificates/registered/{ca_id}")
    thing = new_thing()
    bundle = maker.device(tmp_path, thing)

    assert attempt(cloud, thing, bundle) == DROPPED
    event = events.expect(f"$aws/events/certificates/registered/{ca_id}")

    assert event["caCertificateId"] == ca_id
    assert event["certificateStatus"] == "PENDING_ACTIVATION"
    assert event["awsAccountId"] == "123456789012"
    eventually(lambda: attempt(cloud, thing, bundle) == mqtt.ACCEPTED)
    certificate = certificate_of(cloud, thing)
    assert certificate["certificateId"] == event["certificateId"]
    assert certificate["status"] == "ACTIVE"
    iot = cloud.client("iot")
    assert iot.describe_thing(thingName=thing)["thingTypeName"] == "smartlight"
    assert [p["policyName"] for p in iot.list_attached_policies(
        target=certificate["certificateArn"])["policies"]] == [DEVICE_POLICY]


def test_a_jitr_certificate_whose_name_is_not_a_thing_name_is_revoked(cloud, tmp_path,
                                                                       local_mqtt):
    maker = MakerCA()
    ca_id = register_ca(cloud, maker)
    events = local_mqtt()
    events.subscribe(f"$aws/events/certificates/registered/{ca_id}")
    bundle = maker.device(tmp_path, "kitchen-lamp")

    assert attempt(cloud, "kitchen-lamp", bundle) == DROPPED
    certificate_id = events.expect(
        f"$aws/events/certificates/registered/{ca_id}")["certificateId"]

    iot = cloud.client("iot")
    eventually(lambda: iot.describe_certificate(certificateId=certificate_id)[
        "certificateDescription"]["status"] == "REVOKED")
    assert attempt(cloud, "kitchen-lamp", bundle) == mqtt.REFUSED_NOT_AUTHORIZED


def test_a_ca_without_auto_registration_refuses_unknown_certificates(cloud, tmp_path):
    maker = MakerCA()
    register_ca(cloud, maker, template=JITP_TEMPLATE, auto_registration=False)
    thing = new_thing()

    assert attempt(cloud, thing, maker.device(tmp_path, thing)) == mqtt.REFUSED_NOT_AUTHORIZED
    iot = cloud.client("iot")
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.describe_thing(thingName=thing)


def test_an_inactive_ca_refuses_its_certificates(cloud, tmp_path):
    maker = MakerCA()
    ca_id = register_ca(cloud, maker, template=JITP_TEMPLATE)
    thing = new_thing()
    bundle = maker.device(tmp_path, thing)
    attempt(cloud, thing, bundle)
    assert attempt(cloud, thing, bundle) == mqtt.ACCEPTED

    cloud.client("iot").update_ca_certificate(certificateId=ca_id, newStatus="INACTIVE")

    assert attempt(cloud, thing, bundle) == mqtt.REFUSED_NOT_AUTHORIZED
