"""register_maker_ca: a maker's CA for just-in-time provisioning (JITP) and registration (JITR)."""

from __future__ import annotations

import io
import json
import time

import pytest
from cryptography import x509
from django.core.management import CommandError, call_command

from devices.tests.stack import point_settings_at
from localcloud.tests.tls import DROPPED, TLS_REFUSED, MakerCA, TlsClient, key_pem


def write_ca(tmp_path, ca: MakerCA, name: str = "maker"):
    cert = tmp_path / f"{name}-ca.pem"
    key = tmp_path / f"{name}-ca.key"
    cert.write_text(ca.pem)
    key.write_text(key_pem(ca.key))
    return cert, key


def register(cert, key, method, **extra):
    args = ["--ca-cert", str(cert), "--ca-key", str(key), "--method", method]
    for name, value in extra.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    out = io.StringIO()
    call_command("register_maker_ca", *args, stdout=out)
    return out.getvalue()


EXPECTED_JITP_TEMPLATE = {
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
            "OverrideSettings": {"AttributePayload": "MERGE", "ThingTypeName": "REPLACE",
                                 "ThingGroups": "DO_NOTHING"},
        },
        "certificate": {"Type": "AWS::IoT::Certificate",
                        "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"},
                                       "Status": "ACTIVE"}},
        "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "smartlight-device"}},
    },
}


@pytest.fixture
def registered(iot, monkeypatch):
    """The ids register_ca_certificate answered (moto has no ListCACertificates)."""
    from smartlight import aws

    client = aws.client("iot")
    ids: list[str] = []
    real = client.register_ca_certificate

    def spy(**kwargs):
        answer = real(**kwargs)
        ids.append(answer["certificateId"])
        return answer

    monkeypatch.setattr(client, "register_ca_certificate", spy)
    return ids


def test_it_registers_the_ca_active_with_the_jitp_template(iot, registered, tmp_path):
    cert, key = write_ca(tmp_path, MakerCA())
    output = register(cert, key, "jitp", role_arn="arn:aws:iam::123456789012:role/jitp")
    (ca_id,) = registered
    assert ca_id in output
    described = iot.describe_ca_certificate(certificateId=ca_id)
    assert described["certificateDescription"]["status"] == "ACTIVE"
    config = described["registrationConfig"]
    assert json.loads(config["templateBody"]) == EXPECTED_JITP_TEMPLATE
    assert config["roleArn"] == "arn:aws:iam::123456789012:role/jitp"


def test_the_verification_certificate_proves_the_key_with_the_registration_code(iot, tmp_path,
                                                                               monkeypatch):
    from smartlight import aws

    ca = MakerCA()
    cert, key = write_ca(tmp_path, ca)
    client = aws.client("iot")
    sent = {}
    real = client.register_ca_certificate
    monkeypatch.setattr(client, "register_ca_certificate",
                        lambda **kw: sent.update(kw) or real(**kw))
    # AWS gives one code per account and region (moto a new one per call): pin it.
    code = client.get_registration_code()["registrationCode"]
    monkeypatch.setattr(client, "get_registration_code", lambda: {"registrationCode": code})
    register(cert, key, "jitr")
    verification = x509.load_pem_x509_certificate(sent["verificationCertificate"].encode())
    assert verification.subject.get_attributes_for_oid(
        x509.oid.NameOID.COMMON_NAME)[0].value == code
    verification.verify_directly_issued_by(ca.cert)
    assert sent["allowAutoRegistration"] is True and sent["setAsActive"] is True
    assert "registrationConfig" not in sent  # JITR: the Lambda decides, not a template


@pytest.mark.parametrize("problem, message", [
    ("not a ca", "not a CA"),
    ("other key", "does not belong"),
    ("no role", "--role-arn"),
])
def test_it_refuses_bad_input_and_registers_nothing(iot, registered, tmp_path, settings, problem,
                                                    message):
    ca = MakerCA()
    cert, key = write_ca(tmp_path, ca)
    method = "jitp" if problem == "no role" else "jitr"
    if problem == "not a ca":
        cert.write_text(_leaf(ca))
    elif problem == "other key":
        key.write_text(key_pem(MakerCA().key))
    if problem == "no role":
        settings.AWS_MODE = "aws"  # locally a stand-in role is used
    with pytest.raises(CommandError, match=message):
        register(cert, key, method)
    assert registered == []


def _leaf(ca: MakerCA) -> str:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        bundle = ca.device(Path(folder), "sl-0000000000aa")
        return bundle.cert.read_text().split("-----END CERTIFICATE-----")[0] + (
            "-----END CERTIFICATE-----\n")


# --- end to end on localcloud with real TLS ---------------------------------------------------
@pytest.fixture
def local(settings, db):
    """A localcloud of its own: the CAs registered here stay out of the other tests' cloud."""
    from localcloud.testing import LocalCloud
    from smartlight import aws

    with LocalCloud() as cloud:
        point_settings_at(cloud, settings)
        yield cloud
    aws.reset_clients()


def eventually_connects(cloud, thing, bundle, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        client = TlsClient(cloud, thing, bundle)
        if client.code == 0 or time.monotonic() > deadline:
            return client
        time.sleep(0.2)


def test_a_jitp_light_is_dropped_once_then_provisioned(local, tmp_path):
    ca = MakerCA("JITP maker")
    cert, key = write_ca(tmp_path, ca, "jitp")
    register(cert, key, "jitp")
    thing = "sl-00000000a1f0"
    bundle = ca.device(tmp_path / "light", thing)

    first = TlsClient(local, thing, bundle)
    assert first.code in (DROPPED, TLS_REFUSED)  # IoT Core drops the first connection
    second = eventually_connects(local, thing, bundle)
    assert second.code == 0
    iot = local.client("iot")
    assert iot.describe_thing(thingName=thing)["thingTypeName"] == "smartlight"
    (arn,) = iot.list_thing_principals(thingName=thing)["principals"]
    assert [p["policyName"] for p in iot.list_attached_policies(target=arn)["policies"]] == [
        "smartlight-device"]


def test_a_jitr_light_is_registered_then_activated_by_the_lambda(local, tmp_path):
    ca = MakerCA("JITR maker")
    cert, key = write_ca(tmp_path, ca, "jitr")
    register(cert, key, "jitr")
    thing = "sl-00000000a2f0"
    bundle = ca.device(tmp_path / "light", thing)

    assert TlsClient(local, thing, bundle).code in (DROPPED, TLS_REFUSED)
    assert eventually_connects(local, thing, bundle).code == 0


def test_a_light_signed_by_an_unregistered_ca_is_refused(local, tmp_path):
    bundle = MakerCA("Nobody").device(tmp_path / "light", "sl-00000000a3f0")
    assert TlsClient(local, "sl-00000000a3f0", bundle).code != 0
    time.sleep(0.5)
    assert TlsClient(local, "sl-00000000a3f0", bundle).code != 0

