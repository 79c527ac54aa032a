"""The JITR Lambda against moto's IoT registry: it activates a pending certificate of an active
registered CA, with its thing and the device policy, and revokes anything else."""

from __future__ import annotations

import datetime
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

KWARGS = {"region_name": "us-east-1", "aws_access_key_id": "testing",
          "aws_secret_access_key": "testing"}
POLICY = "smartlight-device"


def make_ca(name):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def device_pem(ca, subject):
    ca_key, ca_cert = ca
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=30))
            .sign(ca_key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def named(common_name, *more):
    return x509.Name([*more, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@pytest.fixture
def iot(monkeypatch):
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("IOT_DEVICE_POLICY", POLICY)
    with mock_aws():
        client = boto3.client("iot", **KWARGS)
        client.create_thing_type(thingTypeName="smartlight")
        client.create_policy(policyName=POLICY, policyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}))
        yield client


@pytest.fixture
def ca(iot):
    ca = make_ca("Maker CA")
    ca_id = iot.register_ca_certificate(caCertificate=pem(ca[1]), setAsActive=True,
                                        allowAutoRegistration=True)["certificateId"]
    return ca, ca_id


def pending(iot, ca, subject):
    (key, cert), _ca_id = ca
    return iot.register_certificate(certificatePem=device_pem((key, cert), subject),
                                    caCertificatePem=pem(cert), status="PENDING_ACTIVATION")


def event(certificate_id, ca_id):
    """AWS's `$aws/events/certificates/registered/<caCertificateId>` message."""
    return {"certificateId": certificate_id, "caCertificateId": ca_id,
            "timestamp": 1796000000000, "certificateStatus": "PENDING_ACTIVATION",
            "awsAccountId": "123456789012", "certificateRegistrationTimestamp": "1796000000000"}


def status(iot, certificate_id):
    return iot.describe_certificate(certificateId=certificate_id)[
        "certificateDescription"]["status"]


def test_it_activates_the_certificate_with_its_thing_and_the_device_policy(jitr_handler, iot,
                                                                          ca):
    registered = pending(iot, ca, named("sl-0123456789ab"))

    answer = jitr_handler.handler(event(registered["certificateId"], ca[1]), None, iot=iot)

    assert answer == {"activated": True, "thing": "sl-0123456789ab", "reason": None}
    assert status(iot, registered["certificateId"]) == "ACTIVE"
    assert iot.describe_thing(thingName="sl-0123456789ab")["thingTypeName"] == "smartlight"
    arn = registered["certificateArn"]
    assert [p["policyName"] for p in iot.list_attached_policies(target=arn)["policies"]] == [
        POLICY]
    assert iot.list_principal_things(principal=arn)["things"] == ["sl-0123456789ab"]


def test_it_keeps_an_existing_thing(jitr_handler, iot, ca):
    iot.create_thing(thingName="sl-0123456789ab", thingTypeName="smartlight",
                     attributePayload={"attributes": {"home": "h1"}})
    registered = pending(iot, ca, named("sl-0123456789ab"))

    assert jitr_handler.handler(event(registered["certificateId"], ca[1]), None,
                                iot=iot)["activated"]
    assert iot.describe_thing(thingName="sl-0123456789ab")["attributes"] == {"home": "h1"}


def test_it_revokes_a_certificate_of_an_inactive_ca(jitr_handler, iot, ca):
    registered = pending(iot, ca, named("sl-0123456789ab"))
    iot.update_ca_certificate(certificateId=ca[1], newStatus="INACTIVE")

    answer = jitr_handler.handler(event(registered["certificateId"], ca[1]), None, iot=iot)

    assert answer["activated"] is False
    assert status(iot, registered["certificateId"]) == "REVOKED"
    assert iot.list_things()["things"] == []


def test_it_revokes_a_certificate_the_event_names_with_another_ca(jitr_handler, iot, ca):
    other = make_ca("Other CA")
    other_id = iot.register_ca_certificate(caCertificate=pem(other[1]), setAsActive=True,
                                           allowAutoRegistration=True)["certificateId"]
    registered = pending(iot, ca, named("sl-0123456789ab"))

    answer = jitr_handler.handler(event(registered["certificateId"], other_id), None, iot=iot)

    assert answer["activated"] is False
    assert status(iot, registered["certificateId"]) == "REVOKED"


def test_it_revokes_a_certificate_of_an_unknown_ca(jitr_handler, iot, ca):
    registered = pending(iot, ca, named("sl-0123456789ab"))

    answer = jitr_handler.handler(event(registered["certificateId"], "f" * 64), None, iot=iot)

    assert answer["activated"] is False
    assert status(iot, registered["certificateId"]) == "REVOKED"


@pytest.mark.parametrize("common_name", ["kitchen", "sl-0123456789AB", "sl-0123456789ab0"])
def test_it_revokes_a_certificate_whose_name_is_not_a_thing_name(jitr_handler, iot, ca,
                                                                 common_name):
    registered = pending(iot, ca, named(common_name))

    answer = jitr_handler.handler(event(registered["certificateId"], ca[1]), None, iot=iot)

    assert answer["activated"] is False
    assert status(iot, registered["certificateId"]) == "REVOKED"
    assert iot.list_things()["things"] == []


def test_it_leaves_a_certificate_that_is_not_pending_alone(jitr_handler, iot, ca):
    registered = pending(iot, ca, named("sl-0123456789ab"))
    iot.update_certificate(certificateId=registered["certificateId"], newStatus="INACTIVE")

    answer = jitr_handler.handler(event(registered["certificateId"], ca[1]), None, iot=iot)

    assert answer["activated"] is False
    assert status(iot, registered["certificateId"]) == "INACTIVE"


def test_it_ignores_an_event_that_is_not_a_registration(jitr_handler, iot):
    assert jitr_handler.handler({"hello": "world"}, None, iot=iot)["activated"] is False


@pytest.mark.parametrize("subject", [
    named("sl-0123456789ab"),
    named("sl-0123456789ab", x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Maker " + "x" * 200)),
    x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sl-0123456789ab"),
               x509.NameAttribute(NameOID.SERIAL_NUMBER, "42")]),
])
def test_it_reads_the_common_name_as_cryptography_does(jitr_handler, subject):
    text = device_pem(make_ca("Issuer CN that is not the subject"), subject)

    assert jitr_handler.subject_common_name(text) == "sl-0123456789ab"


def test_a_subject_without_a_common_name_has_none(jitr_handler):
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Maker")])

    assert jitr_handler.subject_common_name(device_pem(make_ca("CA"), subject)) is None
