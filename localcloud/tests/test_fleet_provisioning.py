"""Fleet provisioning by claim over MQTT, driven by a plain CPython client (paho-mqtt) as a light
in factory state would: claim certificate → CreateKeysAndCertificate → RegisterThing → connect
again with its own certificate. Payloads and topics as in AWS's "Device provisioning MQTT API";
the pre-provisioning hook (lambda/provisioning_hook.py) admits only serials in the serials table.
"""

from __future__ import annotations

import json
import queue
import ssl
import threading
import uuid

import paho.mqtt.client as paho
import pytest

from localcloud import mqtt
from localcloud.cloud import CLAIM_POLICY, DEVICE_POLICY, FLEET_TEMPLATE_NAME, SERIALS_TABLE
from localcloud.tests.conftest import new_thing
from localcloud.tests.tls import TlsClient, new_certificate, write_bundle

CREATE = "$aws/certificates/create/json"
REGISTER = f"$aws/provisioning-templates/{FLEET_TEMPLATE_NAME}/provision/json"


class Light:
    """paho-mqtt over TLS with one certificate, recording what arrives."""

    def __init__(self, cloud, bundle, client_id: str) -> None:
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.code = None
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id,
                             protocol=paho.MQTTv311)
        context = ssl.create_default_context(cafile=str(cloud.ca_path))
        context.load_cert_chain(bundle.cert, bundle.key)
        client.tls_set_context(context)
        client.on_connect = self._on_connect
        client.on_disconnect = lambda *args: self.disconnected.set()
        client.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload))
        self.client = client
        client.connect(cloud.mqtts_host, cloud.mqtts_port, keepalive=30)
        client.loop_start()
        assert self.connected.wait(5), "no CONNACK"

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.code = reason_code.value
        self.connected.set()

    def subscribe(self, *filters: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *args: done.set()
        self.client.subscribe([(f, 1) for f in filters])
        assert done.wait(5), "no SUBACK"

    def request(self, topic: str, payload: dict, timeout: float = 10.0) -> tuple[str, dict]:
        """Publish a request, return (suffix, body) of its accepted/rejected answer."""
        self.client.publish(topic, json.dumps(payload), qos=1)
        while True:
            got, body = self.messages.get(timeout=timeout)
            if got in (topic + "/accepted", topic + "/rejected"):
                return got[len(topic) + 1:], json.loads(body)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def lights():
    made = []

    def light(cloud, bundle, client_id):
        made.append(Light(cloud, bundle, client_id))
        return made[-1]

    yield light
    for light in made:
        light.close()


@pytest.fixture
def claim(cloud, tmp_path):
    """The fleet claim certificate every light of a batch carries: its policy, no thing."""
    bundle = new_certificate(cloud, tmp_path / "claim", "claim")
    cloud.client("iot").attach_policy(policyName=CLAIM_POLICY, target=bundle.arn)
    return bundle


def made_serial(cloud, status: str = "made") -> str:
    """A serial the platform made (provision_batch writes this item). Its thing name is one
    this session's localcloud serves (`things=`)."""
    serial = new_thing()[len("sl-"):]
    cloud.client("dynamodb").put_item(TableName=SERIALS_TABLE, Item={
        "serial": {"S": serial}, "thing": {"S": f"sl-{serial}"},
        "made_at": {"S": "2026-11-29T23:00:00Z"}, "status": {"S": status},
    })
    return serial


def factory_light(cloud, claim, lights):
    light = lights(cloud, claim, f"factory-{uuid.uuid4().hex[:8]}")
    light.subscribe(CREATE + "/accepted", CREATE + "/rejected",
                    REGISTER + "/accepted", REGISTER + "/rejected")
    return light


def test_a_claim_light_provisions_itself_and_reconnects_with_its_own_certificate(
        cloud, claim, lights, tmp_path):
    serial = made_serial(cloud)
    thing = f"sl-{serial}"
    light = factory_light(cloud, claim, lights)

    outcome, created = light.request(CREATE, {})
    assert outcome == "accepted"
    assert set(created) == {"certificateId", "certificatePem", "privateKey",
                            "certificateOwnershipToken"}
    outcome, registered = light.request(REGISTER, {
        "certificateOwnershipToken": created["certificateOwnershipToken"],
        "parameters": {"SerialNumber": serial},
    })
    assert (outcome, registered) == ("accepted", {"deviceConfiguration": {}, "thingName": thing})
    light.close()

    own = write_bundle(tmp_path / "own", "certificate", created["certificatePem"],
                       created["privateKey"])
    device = TlsClient(cloud, thing, own)
    assert device.code == mqtt.ACCEPTED
    assert device.subscribe(f"$aws/things/{thing}/shadow/get/accepted") == [1]
    device.publish(f"$aws/things/{thing}/shadow/update", {"state": {"reported": {"on": False}}})
    device.publish(f"$aws/things/{thing}/shadow/get", b"")
    assert device.expect(f"$aws/things/{thing}/shadow/get/accepted")["state"]["reported"] == {
        "on": False}
    device.close()

    iot = cloud.client("iot")
    described = iot.describe_thing(thingName=thing)
    assert described["thingTypeName"] == "smartlight"
    assert described["attributes"] == {"serial": serial}
    certificate = iot.describe_certificate(certificateId=created["certificateId"])
    assert certificate["certificateDescription"]["status"] == "ACTIVE"
    arn = certificate["certificateDescription"]["certificateArn"]
    assert [p["policyName"] for p in iot.list_attached_policies(target=arn)["policies"]] == [
        DEVICE_POLICY]
    assert iot.list_principal_things(principal=arn)["things"] == [thing]


def test_a_serial_the_platform_did_not_make_is_rejected_and_nothing_is_made(
        cloud, claim, lights, tmp_path):
    serial = new_thing()[len("sl-"):]
    light = factory_light(cloud, claim, lights)
    _, created = light.request(CREATE, {})

    outcome, error = light.request(REGISTER, {
        "certificateOwnershipToken": created["certificateOwnershipToken"],
        "parameters": {"SerialNumber": serial},
    })

    assert outcome == "rejected"
    assert error["statusCode"] == 403 and error["errorCode"] == "AccessDenied"
    iot = cloud.client("iot")
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.describe_thing(thingName=f"sl-{serial}")
    description = iot.describe_certificate(
        certificateId=created["certificateId"])["certificateDescription"]
    assert description["status"] == "PENDING_ACTIVATION"
    assert iot.list_attached_policies(target=description["certificateArn"])["policies"] == []
    own = write_bundle(tmp_path / "own", "certificate", created["certificatePem"],
                       created["privateKey"])
    assert TlsClient(cloud, f"sl-{serial}", own).code == mqtt.REFUSED_NOT_AUTHORIZED


def test_a_blocked_serial_is_rejected(cloud, claim, lights):
    serial = made_serial(cloud, status="blocked")
    light = factory_light(cloud, claim, lights)
    _, created = light.request(CREATE, {})

    outcome, error = light.request(REGISTER, {
        "certificateOwnershipToken": created["certificateOwnershipToken"],
        "parameters": {"SerialNumber": serial},
    })

    assert (outcome, error["errorCode"]) == ("rejected", "AccessDenied")


def test_a_power_cut_between_the_two_calls_leaves_an_unusable_certificate_and_a_retry_works(
        cloud, claim, lights, tmp_path):
    serial = made_serial(cloud)
    thing = f"sl-{serial}"
    light = factory_light(cloud, claim, lights)
    _, lost = light.request(CREATE, {})
    light.close()  # the power goes: the key of `lost` was never written down

    iot = cloud.client("iot")
    assert iot.describe_certificate(certificateId=lost["certificateId"])[
        "certificateDescription"]["status"] == "PENDING_ACTIVATION"
    orphan = write_bundle(tmp_path / "lost", "certificate", lost["certificatePem"],
                          lost["privateKey"])
    assert TlsClient(cloud, thing, orphan).code == mqtt.REFUSED_NOT_AUTHORIZED

    again = factory_light(cloud, claim, lights)
    _, created = again.request(CREATE, {})
    outcome, registered = again.request(REGISTER, {
        "certificateOwnershipToken": created["certificateOwnershipToken"],
        "parameters": {"SerialNumber": serial},
    })

    assert (outcome, registered["thingName"]) == ("accepted", thing)
    own = write_bundle(tmp_path / "own", "certificate", created["certificatePem"],
                       created["privateKey"])
    assert TlsClient(cloud, thing, own).code == mqtt.ACCEPTED
    assert TlsClient(cloud, thing, orphan).code == mqtt.REFUSED_NOT_AUTHORIZED
    arn = iot.describe_certificate(certificateId=created["certificateId"])[
        "certificateDescription"]["certificateArn"]
    assert iot.list_principal_things(principal=arn)["things"] == [thing]


def test_an_ownership_token_works_once(cloud, claim, lights):
    light = factory_light(cloud, claim, lights)
    _, created = light.request(CREATE, {})
    request = {"certificateOwnershipToken": created["certificateOwnershipToken"],
               "parameters": {"SerialNumber": made_serial(cloud)}}

    assert light.request(REGISTER, request)[0] == "accepted"
    outcome, error = light.request(REGISTER, request)

    assert outcome == "rejected"
    assert (error["statusCode"], error["errorCode"]) == (400,
                                                         "InvalidCertificateOwnershipToken")


def test_a_made_up_token_is_rejected(cloud, claim, lights):
    light = factory_light(cloud, claim, lights)

    outcome, error = light.request(REGISTER, {"certificateOwnershipToken": "guess",
                                              "parameters": {"SerialNumber": made_serial(cloud)}})

    assert outcome == "rejected"
    assert set(error) == {"statusCode", "errorCode", "errorMessage"}
    assert error["errorCode"] == "InvalidCertificateOwnershipToken"


def test_a_payload_that_is_not_json_is_rejected(cloud, claim, lights):
    light = factory_light(cloud, claim, lights)
    light.client.publish(REGISTER, b"not json", qos=1)

    topic, body = light.messages.get(timeout=10)

    assert topic == REGISTER + "/rejected"
    assert json.loads(body)["statusCode"] == 400


def test_answers_go_only_to_the_connection_that_asked(cloud, claim, lights):
    asking = factory_light(cloud, claim, lights)
    other = factory_light(cloud, claim, lights)

    assert asking.request(CREATE, {})[0] == "accepted"

    with pytest.raises(queue.Empty):
        other.messages.get(timeout=0.5)


def test_a_claim_certificate_cannot_touch_any_shadow(cloud, claim, lights):
    serial = made_serial(cloud)
    thing = f"sl-{serial}"
    cases = [
        mqtt.publish(f"$aws/things/{thing}/shadow/update", b"{}", 1, 1),
        mqtt.publish(f"$aws/things/{thing}/shadow/get", b"", 1, 1),
        mqtt.subscribe(1, [(f"$aws/things/{thing}/shadow/update/delta", 1)]),
        mqtt.subscribe(1, [("$aws/things/+/shadow/#", 1)]),
        mqtt.publish(f"smartlight/{thing}/lwt", b"{}", 1, 1),
    ]
    for packet in cases:
        client = TlsClient(cloud, thing, claim)  # even with the thing's name as client id
        assert client.code == mqtt.ACCEPTED
        client.sock.sendall(packet)
        assert client.closed_by_server(), packet


def test_the_claim_policy_does_not_allow_create_certificate_from_csr(cloud, claim):
    client = TlsClient(cloud, f"factory-{uuid.uuid4().hex[:8]}", claim)

    client.sock.sendall(mqtt.subscribe(1, [("$aws/certificates/create-from-csr/json/+", 1)]))

    assert client.closed_by_server()


def test_create_certificate_from_csr_signs_the_devices_own_key(cloud, lights, tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "light")]))
           .sign(key, hashes.SHA256()))
    topic = "$aws/certificates/create-from-csr/json"
    iot = cloud.client("iot")
    claim = new_certificate(cloud, tmp_path, "csr-claim")
    name = f"csr-claim-{uuid.uuid4().hex[:8]}"
    iot.create_policy(policyName=name, policyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
             "Resource": "arn:aws:iot:*:*:topic/$aws/certificates/create-from-csr/json*"},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": "arn:aws:iot:*:*:topicfilter/$aws/certificates/create-from-csr/json*"},
        ]}))
    iot.attach_policy(policyName=name, target=claim.arn)
    light = lights(cloud, claim, f"factory-{uuid.uuid4().hex[:8]}")
    light.subscribe(topic + "/accepted", topic + "/rejected")

    outcome, created = light.request(topic, {
        "certificateSigningRequest": csr.public_bytes(serialization.Encoding.PEM).decode()})

    assert outcome == "accepted"
    assert set(created) == {"certificateOwnershipToken", "certificateId", "certificatePem"}
    issued = x509.load_pem_x509_certificate(created["certificatePem"].encode())
    assert issued.public_key().public_numbers() == key.public_key().public_numbers()


def provision_by_claim(cloud, claim, lights, serial, directory):
    light = factory_light(cloud, claim, lights)
    _, created = light.request(CREATE, {})
    outcome, registered = light.request(REGISTER, {
        "certificateOwnershipToken": created["certificateOwnershipToken"],
        "parameters": {"SerialNumber": serial},
    })
    light.close()
    assert outcome == "accepted", registered
    bundle = write_bundle(directory, "certificate", created["certificatePem"],
                          created["privateKey"])
    return created, bundle


def test_a_removed_light_that_comes_back_with_its_claim_certificate_is_provisioned_again(
        cloud, claim, lights, tmp_path):
    serial = made_serial(cloud)
    thing = f"sl-{serial}"
    first, old = provision_by_claim(cloud, claim, lights, serial, tmp_path / "first")
    iot = cloud.client("iot")
    arn = iot.describe_certificate(certificateId=first["certificateId"])[
        "certificateDescription"]["certificateArn"]
    # What removing a light does: detach, deactivate, delete the thing.
    iot.detach_policy(policyName=DEVICE_POLICY, target=arn)
    iot.detach_thing_principal(thingName=thing, principal=arn)
    iot.update_certificate(certificateId=first["certificateId"], newStatus="INACTIVE")
    iot.delete_thing(thingName=thing)

    second, new = provision_by_claim(cloud, claim, lights, serial, tmp_path / "second")

    assert TlsClient(cloud, thing, new).code == mqtt.ACCEPTED
    assert TlsClient(cloud, thing, old).code == mqtt.REFUSED_NOT_AUTHORIZED
    assert iot.describe_thing(thingName=thing)["attributes"] == {"serial": serial}


def test_provisioning_an_existing_thing_again_merges_into_it(cloud, claim, lights, tmp_path):
    serial = made_serial(cloud)
    thing = f"sl-{serial}"
    iot = cloud.client("iot")
    provision_by_claim(cloud, claim, lights, serial, tmp_path / "first")
    iot.update_thing(thingName=thing, attributePayload={"attributes": {"home": "h1"},
                                                        "merge": True})

    _, again = provision_by_claim(cloud, claim, lights, serial, tmp_path / "again")

    assert TlsClient(cloud, thing, again).code == mqtt.ACCEPTED
    assert iot.describe_thing(thingName=thing)["attributes"] == {"serial": serial, "home": "h1"}
