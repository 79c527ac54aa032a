"""Fixtures for the devices tests: AWS through moto, lights in alice's home."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(autouse=True)
def no_simulator_frames(monkeypatch):
    """Strip pictures come from the state, whatever a local `make run` left in var/lights."""
    monkeypatch.setenv("SMARTLIGHT_SIM_DIR", "")


@pytest.fixture
def aws(aws, settings):
    """The root `aws` fixture with the shadow-events queue the consumer reads."""
    aws.client("sqs").create_queue(QueueName=settings.SHADOW_EVENTS_QUEUE)
    return aws


def register_thing(aws, thing: str) -> None:
    """moto's iot-data (unlike AWS) only keeps shadows of things known to the IoT registry."""
    aws.client("iot").create_thing(thingName=thing)


def live_shadow(aws, thing: str) -> dict:
    response = aws.client("iot-data").get_thing_shadow(thingName=thing)
    return json.loads(response["payload"].read())


REPORTED = {
    "on": True,
    "brightness": 200,
    "color": "#ff8800",
    "effect": "solid",
    "speed": 128,
    "connected": True,
    "fw": "1.0.0",
    "led_count": 60,
    "effects": ["solid", "rainbow", "breathe"],
}


@pytest.fixture
def light(home):
    from devices.models import Device, Room

    room = Room.objects.create(home=home, name="Living room")
    return Device.objects.create(
        home=home, room=room, name="Sofa strip", thing_name="sl-0000000000a1",
        reported=dict(REPORTED), desired={"on": True}, connected=True, shadow_version=3,
        fw="1.0.0",
    )


@pytest.fixture
def charlies_light(charlies_home):
    from devices.models import Device

    return Device.objects.create(
        home=charlies_home, name="Charlie's lamp", thing_name="sl-0000000000c1",
        reported=dict(REPORTED), connected=True,
    )


@pytest.fixture(scope="session")
def cloud():
    """One localcloud (subprocess, ephemeral ports) for the integration and browser tests."""
    from localcloud.testing import LocalCloud

    with LocalCloud() as cloud:
        yield cloud


# --- provisioning ------------------------------------------------------------------------------
REGION = "us-east-1"


@pytest.fixture
def iot(aws, settings, tmp_path, db):
    """moto with what the CloudFormation stack makes (thing type, device and claim policies,
    the serials and iot_cookie tables) and a server CA file; returns the IoT client."""
    import json

    from devices import provisioning

    settings.AWS_REGION = REGION
    ca = tmp_path / "server-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nTEST\n-----END CERTIFICATE-----\n")
    settings.IOT_SERVER_CA_FILE = str(ca)
    settings.IOT_MQTT_HOST = "iot.example.test"
    settings.IOT_MQTT_PORT = 8883
    client = aws.client("iot")
    client.create_thing_type(thingTypeName="smartlight")
    client.create_policy(policyName="smartlight-device",
                         policyDocument=json.dumps(provisioning.device_policy_document()))
    client.create_policy(policyName="smartlight-claim",
                         policyDocument=json.dumps(provisioning.claim_policy_document()))
    ddb = aws.client("dynamodb")
    for table, key in ((settings.IOT_COOKIE_TABLE, "user_id"), (settings.SERIALS_TABLE, "serial")):
        ddb.create_table(
            TableName=table, KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    return client


def certificates(iot) -> dict[str, str]:
    """{certificate id: status} of every certificate in the account."""
    return {c["certificateId"]: c["status"] for c in iot.list_certificates()["certificates"]}


def policies_of(iot, certificate_arn: str) -> list[str]:
    return [p["policyName"] for p in iot.list_attached_policies(target=certificate_arn)["policies"]]


def cookie_things(user) -> list[str] | None:
    """The `things` of `user`'s iot_cookie item in DynamoDB (None: no item)."""
    from accounts import iot_cookie

    item = iot_cookie.remote_item(user.iot_user_id)
    return None if item is None else list(item["things"])


# The device policy as AWS documents IoT Core policy variables: a certificate may connect only
# as the thing it is attached to, and use only that thing's topics (any region and account:
# the one document serves every environment).
EXPECTED_DEVICE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect",
         "Resource": "arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
         "Resource": [
             "arn:aws:iot:*:*:topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*",
             "arn:aws:iot:*:*:topic/smartlight/${iot:Connection.Thing.ThingName}/*",
         ]},
        {"Effect": "Allow", "Action": "iot:Subscribe",
         "Resource": [
             "arn:aws:iot:*:*:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*",
             "arn:aws:iot:*:*:topicfilter/smartlight/${iot:Connection.Thing.ThingName}/*",
         ]},
    ],
}

EXPECTED_CLAIM_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect",
         "Resource": "arn:aws:iot:*:*:client/*"},
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
         "Resource": [
             "arn:aws:iot:*:*:topic/$aws/certificates/create/json*",
             "arn:aws:iot:*:*:topic/$aws/provisioning-templates/smartlight-fleet/provision/json*",
         ]},
        {"Effect": "Allow", "Action": "iot:Subscribe",
         "Resource": [
             "arn:aws:iot:*:*:topicfilter/$aws/certificates/create/json*",
             "arn:aws:iot:*:*:topicfilter/$aws/provisioning-templates/smartlight-fleet/provision/json*",
         ]},
    ],
}
