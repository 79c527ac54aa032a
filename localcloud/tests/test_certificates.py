"""The TLS listener: identity by X.509 client certificate and IoT policies, as IoT Core on 8883.

Real TLS, real certificates: the platform's boto3 calls (moto inside localcloud) make them, and
the client presents them. Refusals follow the AWS IoT developer guide: an unknown, inactive or
revoked certificate, or a client id that is not a thing attached to the certificate (thing
policy variables), is refused at CONNECT; a publish or subscribe the policy denies closes the
connection (MQTT 3.1.1); a message the policy does not let the client receive is not delivered.
"""

from __future__ import annotations

import json
import ssl

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from localcloud import mqtt
from localcloud.ca import LocalCA, cert_pem, key_pem, new_key
from localcloud.tests.conftest import new_thing
from localcloud.tests.test_broker import RawClient
from localcloud.tests.tls import (
    DROPPED,
    TLS_REFUSED,
    MakerCA,
    TlsClient,
    new_certificate,
    provision,
    write_bundle,
)


@pytest.fixture
def connect(cloud):
    made = []

    def connect(client_id, bundle, **kwargs):
        client = TlsClient(cloud, client_id, bundle, **kwargs)
        made.append(client)
        return client

    yield connect
    for client in made:
        client.close()


def test_a_provisioned_certificate_connects_and_its_light_is_controlled(cloud, tmp_path,
                                                                        connect, thing):
    bundle = provision(cloud, tmp_path, thing)
    device = connect(thing, bundle)
    assert device.code == mqtt.ACCEPTED
    assert device.subscribe(f"$aws/things/{thing}/shadow/update/delta") == [1]
    assert device.subscribe(f"$aws/things/{thing}/shadow/update/accepted") == [1]

    cloud.client("iot-data").update_thing_shadow(
        thingName=thing, payload=json.dumps({"state": {"desired": {"on": True}}}))
    delta = device.expect(f"$aws/things/{thing}/shadow/update/delta")
    device.publish(f"$aws/things/{thing}/shadow/update", {"state": {"reported": {"on": True}}})
    accepted = device.expect(f"$aws/things/{thing}/shadow/update/accepted")

    assert delta["state"] == {"on": True}
    assert accepted["state"]["reported"] == {"on": True}
    shadow = json.loads(cloud.client("iot-data").get_thing_shadow(thingName=thing)
                        ["payload"].read())
    assert "delta" not in shadow["state"]


def test_the_certificates_the_platform_makes_are_signed_by_the_local_ca(cloud, tmp_path):
    bundle = new_certificate(cloud, tmp_path, "any")
    issued = x509.load_pem_x509_certificate(bundle.cert.read_bytes())
    ca = x509.load_pem_x509_certificate(cloud.ca_path.read_bytes())

    issued.verify_directly_issued_by(ca)
    # AWS's certificate id: the SHA-256 of the DER certificate.
    from cryptography.hazmat.primitives import hashes, serialization
    digest = hashes.Hash(hashes.SHA256())
    digest.update(issued.public_bytes(serialization.Encoding.DER))
    assert digest.finalize().hex() == bundle.certificate_id


def test_the_data_endpoint_is_the_tls_listeners_host(cloud):
    described = cloud.client("iot").describe_endpoint(endpointType="iot:Data-ATS")

    assert described["endpointAddress"] == cloud.mqtts_host


def test_an_unregistered_certificate_from_a_trusted_ca_is_refused_at_connect(cloud, tmp_path,
                                                          connect, thing):
    ca = LocalCA(cloud.ca_dir)
    key = new_key()
    cert = ca.issue(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, thing)]),
                    key.public_key())
    bundle = write_bundle(tmp_path, thing, cert_pem(cert), key_pem(key))

    assert connect(thing, bundle).code == mqtt.REFUSED_NOT_AUTHORIZED


@pytest.mark.parametrize("status", ["INACTIVE", "REVOKED", "PENDING_TRANSFER"])
def test_a_certificate_that_is_not_active_is_refused_at_connect(cloud, tmp_path, connect,
                                                                 thing, status):
    bundle = provision(cloud, tmp_path, thing)
    cloud.client("iot").update_certificate(certificateId=bundle.certificate_id,
                                           newStatus=status)

    assert connect(thing, bundle).code == mqtt.REFUSED_NOT_AUTHORIZED


def test_a_certificate_made_active_again_connects_again(cloud, tmp_path,
                                                          connect, thing):
    bundle = provision(cloud, tmp_path, thing)
    cloud.client("iot").update_certificate(certificateId=bundle.certificate_id,
                                           newStatus="INACTIVE")
    assert connect(thing, bundle).code == mqtt.REFUSED_NOT_AUTHORIZED

    cloud.client("iot").update_certificate(certificateId=bundle.certificate_id,
                                           newStatus="ACTIVE")
    assert connect(thing, bundle).code == mqtt.ACCEPTED


@pytest.mark.parametrize("status", ["INACTIVE", "REVOKED"])
def test_a_connected_device_whose_certificate_is_deactivated_is_disconnected(
        cloud, tmp_path, connect, thing, local_mqtt, status):
    bundle = provision(cloud, tmp_path, thing)
    watcher = local_mqtt()
    watcher.subscribe(f"smartlight/{thing}/lwt")
    device = connect(thing, bundle, will=(f"smartlight/{thing}/lwt", b"offline"))
    assert device.code == mqtt.ACCEPTED

    cloud.client("iot").update_certificate(certificateId=bundle.certificate_id,
                                           newStatus=status)

    assert device.closed_by_server(timeout=5)
    assert watcher.expect_raw(f"smartlight/{thing}/lwt") == b"offline"


def test_connecting_as_another_things_name_is_refused(cloud, tmp_path, connect, thing):
    bundle = provision(cloud, tmp_path, thing)
    other = new_thing()
    provision(cloud, tmp_path / "other", other)

    assert connect(other, bundle).code == mqtt.REFUSED_NOT_AUTHORIZED


def test_a_certificate_attached_to_no_thing_is_refused(cloud, tmp_path, connect, thing):
    # The device policy allows client/${iot:Connection.Thing.ThingName}, which resolves only
    # when the client id is a thing attached to the certificate.
    bundle = new_certificate(cloud, tmp_path, thing)
    cloud.client("iot").attach_policy(policyName="smartlight-device", target=bundle.arn)

    assert connect(thing, bundle).code == mqtt.REFUSED_NOT_AUTHORIZED


def test_a_certificate_with_no_policy_is_refused(cloud, tmp_path, connect, thing):
    iot = cloud.client("iot")
    iot.create_thing(thingName=thing)
    bundle = new_certificate(cloud, tmp_path, thing)
    iot.attach_thing_principal(thingName=thing, principal=bundle.arn)

    assert connect(thing, bundle).code == mqtt.REFUSED_NOT_AUTHORIZED


def test_a_certificate_from_an_unknown_ca_fails_the_tls_handshake(cloud, tmp_path, connect,
                                                                  thing):
    bundle = MakerCA("Unregistered CA").device(tmp_path, thing)

    # TLS 1.2, as an ESP32's mbedTLS speaks it: the server checks the client certificate
    # inside the handshake (with TLS 1.3 the alert comes after it).
    client = connect(thing, bundle, tls_version=ssl.TLSVersion.TLSv1_2)

    assert client.code == TLS_REFUSED


def test_publishing_outside_the_policy_closes_the_connection(cloud, tmp_path, connect, thing,
                                                             local_mqtt):
    bundle = provision(cloud, tmp_path, thing)
    other = new_thing()
    watcher = local_mqtt()
    watcher.subscribe(f"$aws/things/{other}/shadow/update")
    device = connect(thing, bundle)

    device.sock.sendall(mqtt.publish(f"$aws/things/{other}/shadow/update", b"{}", 1, 1))

    assert device.closed_by_server()
    assert f"$aws/things/{other}/shadow/update" not in watcher.drain(0.3)


def test_subscribing_outside_the_policy_closes_the_connection(cloud, tmp_path, connect, thing):
    bundle = provision(cloud, tmp_path, thing)
    device = connect(thing, bundle)

    device.sock.sendall(mqtt.subscribe(1, [(f"$aws/things/{new_thing()}/shadow/#", 1)]))

    assert device.closed_by_server()


def test_a_message_the_policy_does_not_let_the_client_receive_is_not_delivered(
        cloud, tmp_path, connect, thing, local_mqtt):
    iot = cloud.client("iot")
    name = f"receive-own-{thing}"
    iot.create_policy(policyName=name, policyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect",
             "Resource": "arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": "arn:aws:iot:*:*:topicfilter/smartlight/+/cmd"},
            {"Effect": "Allow", "Action": "iot:Receive",
             "Resource": "arn:aws:iot:*:*:topic/smartlight/${iot:Connection.Thing.ThingName}/*"},
        ],
    }))
    bundle = provision(cloud, tmp_path, thing, policy=name)
    device = connect(thing, bundle)
    assert device.subscribe("smartlight/+/cmd") == [1]
    service = local_mqtt()

    service.publish(f"smartlight/{new_thing()}/cmd", b"not yours")
    service.publish(f"smartlight/{thing}/cmd", b"yours")

    assert device.receive() == (f"smartlight/{thing}/cmd", b"yours")


def test_a_deny_statement_wins_over_the_device_policy(cloud, tmp_path, connect, thing):
    iot = cloud.client("iot")
    bundle = provision(cloud, tmp_path, thing)
    name = f"deny-lwt-{thing}"
    iot.create_policy(policyName=name, policyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "iot:Publish",
                       "Resource": "arn:aws:iot:*:*:topic/smartlight/*/status"}],
    }))
    iot.attach_policy(policyName=name, target=bundle.arn)
    device = connect(thing, bundle)
    device.publish(f"$aws/things/{thing}/shadow/get", b"")

    device.sock.sendall(mqtt.publish(f"smartlight/{thing}/status", b"{}", 1, 1))

    assert device.closed_by_server()


def test_a_device_sdk_username_is_not_a_credential_over_tls(cloud, tmp_path, connect, thing):
    bundle = provision(cloud, tmp_path, thing)

    client = connect(thing, bundle, username="?SDK=Python&Version=1.6.2")

    assert client.code == mqtt.ACCEPTED


def test_a_device_sdk_username_is_not_a_credential_on_the_plain_listener(cloud, thing):
    client = RawClient(cloud, thing, username="?SDK=PythonV2&Version=1.21.0")

    assert client.code == mqtt.ACCEPTED
    client.close()


def test_the_service_credential_still_works_on_the_plain_listener(cloud):
    username, password = cloud.service_credentials
    client = RawClient(cloud, "platform-worker", username=username, password=password)

    assert client.code == mqtt.ACCEPTED
    client.close()


def test_with_a_state_dir_certificates_their_ca_and_the_serials_survive_a_restart(tmp_path):
    from localcloud.testing import LocalCloud

    thing = new_thing()
    maker = MakerCA()
    with LocalCloud(state_dir=tmp_path / "state", things=new_thing.prefix) as cloud:
        bundle = provision(cloud, tmp_path / "bundle", thing)
        revoked = provision(cloud, tmp_path / "revoked", new_thing())
        cloud.client("iot").update_certificate(certificateId=revoked.certificate_id,
                                               newStatus="REVOKED")
        ca_id = cloud.client("iot").register_ca_certificate(
            caCertificate=maker.pem, setAsActive=True,
            allowAutoRegistration=True)["certificateId"]
        serial = {"serial": {"S": "0123456789ab"}, "status": {"S": "made"}}
        cloud.client("dynamodb").put_item(TableName="smartlight-serials", Item=serial)
        ca_before = cloud.ca_path.read_bytes()

        cloud.restart()

        assert cloud.ca_path.read_bytes() == ca_before
        client = TlsClient(cloud, thing, bundle)
        assert client.code == mqtt.ACCEPTED
        client.close()
        assert TlsClient(cloud, thing, revoked).code == mqtt.REFUSED_NOT_AUTHORIZED
        iot = cloud.client("iot")
        assert iot.describe_thing(thingName=thing)["thingTypeName"] == "smartlight"
        assert [(c["certificateId"], c["status"]) for c in
                iot.list_ca_certificates()["certificates"]] == [(ca_id, "ACTIVE")]
        assert cloud.client("dynamodb").get_item(
            TableName="smartlight-serials", Key={"serial": serial["serial"]})["Item"] == serial
        # JITR still works with the CA registered before the restart.
        jitr = maker.device(tmp_path / "jitr", new_thing())
        assert TlsClient(cloud, jitr.cert.name.split(".")[0], jitr).code == DROPPED
