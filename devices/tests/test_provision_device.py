"""provision_device: one light by hand (thing, certificate, the one device policy, a bundle)."""

from __future__ import annotations

import json
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.core.management import CommandError, call_command

from devices.models import Device, Provisioning
from devices.tests.conftest import EXPECTED_DEVICE_POLICY, certificates, cookie_things, policies_of


def provision(tmp_path, home, name="Desk strip", out="bundle", **extra):
    args = ["--home", str(home.code), "--name", name, "--out", str(tmp_path / out)]
    for key, value in extra.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    call_command("provision_device", *args)
    return tmp_path / out


def files_in(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_it_creates_the_thing_certificate_and_policy_and_writes_the_bundle(
        iot, home, tmp_path, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        out = provision(tmp_path, home, room="Office", led_count=60, max_ma=1200)

    device = Device.objects.get(home=home, name="Desk strip")
    assert device.room.name == "Office"
    assert device.provisioning == Provisioning.MANUAL
    thing = iot.describe_thing(thingName=device.thing_name)
    assert thing["thingTypeName"] == "smartlight"
    assert thing["attributes"] == {"home": str(home.code)}

    principals = iot.list_thing_principals(thingName=device.thing_name)["principals"]
    assert len(principals) == 1 and principals[0].endswith("/" + device.certificate_id)
    assert certificates(iot) == {device.certificate_id: "ACTIVE"}
    assert policies_of(iot, principals[0]) == ["smartlight-device"]
    document = iot.get_policy(policyName="smartlight-device")["policyDocument"]
    assert json.loads(document) == EXPECTED_DEVICE_POLICY

    assert files_in(out) == ["certs/AmazonRootCA1.pem", "certs/certificate.pem.crt",
                             "certs/private.pem.key", "config.json"]
    config = json.loads((out / "config.json").read_text())
    assert config == {"thing": device.thing_name, "endpoint": "iot.example.test", "port": 8883,
                      "led_count": 60, "pin": 19, "max_ma": 1200}
    # The key in the bundle belongs to the certificate AWS holds, and only its owner reads it.
    key = serialization.load_pem_private_key((out / "certs/private.pem.key").read_bytes(), None)
    aws_pem = iot.describe_certificate(
        certificateId=device.certificate_id)["certificateDescription"]["certificatePem"]
    cert = x509.load_pem_x509_certificate(aws_pem.encode())
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert stat.S_IMODE((out / "certs/private.pem.key").stat().st_mode) == 0o600
    # The members who control lights may now control this one (viewers may not).
    alice, bob, vera = (home.memberships.get(role=r).user for r in ("owner", "member", "viewer"))
    assert cookie_things(alice) == cookie_things(bob) == [device.thing_name]
    assert cookie_things(vera) == []


def test_it_never_keeps_the_private_key(iot, home, tmp_path):
    out = provision(tmp_path, home)
    key = (out / "certs/private.pem.key").read_text()
    row = Device.objects.filter(home=home).values().get()
    assert all(key.strip() not in str(value) for value in row.values())


def test_running_it_again_leaves_exactly_one_active_certificate(iot, home, tmp_path):
    provision(tmp_path, home, out="first")
    first = Device.objects.get(home=home)
    provision(tmp_path, home, out="second")

    again = Device.objects.get(home=home)
    assert again.thing_name == first.thing_name
    assert again.certificate_id != first.certificate_id
    assert certificates(iot) == {first.certificate_id: "INACTIVE", again.certificate_id: "ACTIVE"}
    principals = iot.list_thing_principals(thingName=again.thing_name)["principals"]
    assert [p.rsplit("/", 1)[1] for p in principals] == [again.certificate_id]
    old_arn = iot.describe_certificate(
        certificateId=first.certificate_id)["certificateDescription"]["certificateArn"]
    assert policies_of(iot, old_arn) == []


def test_in_aws_mode_the_bundle_carries_amazon_root_ca_1(iot, home, tmp_path, settings):
    settings.IOT_SERVER_CA_FILE = ""
    out = provision(tmp_path, home)
    ca = x509.load_pem_x509_certificate((out / "certs/AmazonRootCA1.pem").read_bytes())
    assert ca.subject.rfc4514_string() == "CN=Amazon Root CA 1,O=Amazon,C=US"


def test_in_local_mode_it_creates_the_device_policy_when_missing(iot, aws, home, tmp_path,
                                                                  settings):
    iot.delete_policy(policyName="smartlight-device")
    settings.AWS_MODE = "local"
    settings.MOTO_ENDPOINT_URL = ""  # moto in-process answers AWS's own endpoints
    provision(tmp_path, home)
    document = iot.get_policy(policyName="smartlight-device")["policyDocument"]
    assert json.loads(document) == EXPECTED_DEVICE_POLICY


def test_in_aws_mode_a_missing_policy_is_an_error_not_a_new_policy(iot, home, tmp_path):
    iot.delete_policy(policyName="smartlight-device")
    with pytest.raises(CommandError, match="smartlight-device"):
        provision(tmp_path, home)
    assert iot.list_policies()["policies"] == [{"policyName": "smartlight-claim",
                                                "policyArn": iot.get_policy(
                                                    policyName="smartlight-claim")["policyArn"]}]
    assert not iot.list_things()["things"]
    assert not Device.objects.exists()


@pytest.mark.parametrize("args, message", [
    (["--home", "00000000-0000-0000-0000-000000000000", "--name", "X"], "--home: no home"),
    (["--home", "Nobody's Home", "--name", "X"], "--home: no home"),
    (["--home", "HOME", "--name", "   "], "--name"),
    (["--home", "HOME", "--name", "bad\nname"], "--name"),
    (["--home", "HOME", "--name", "X", "--led-count", "0"], "--led-count"),
    (["--home", "HOME", "--name", "X", "--max-ma", "5"], "--max-ma"),
])
def test_it_refuses_bad_input_and_makes_nothing(iot, home, tmp_path, args, message):
    args = [str(home.code) if a == "HOME" else a for a in args]
    with pytest.raises(CommandError, match=message):
        call_command("provision_device", *args, "--out", str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()
    assert not iot.list_things()["things"]
    assert certificates(iot) == {}
    assert not Device.objects.exists()


def test_it_refuses_a_folder_that_already_holds_files(iot, home, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(CommandError, match="not an empty directory"):
        provision(tmp_path, home, out="out")
    assert files_in(out) == ["keep.txt"]
    assert certificates(iot) == {}
    assert not Device.objects.exists()


def test_a_failure_halfway_takes_back_the_thing_certificate_row_and_bundle(
        iot, home, tmp_path, monkeypatch):
    from devices import provisioning

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(provisioning, "write_bundle", disk_full)
    with pytest.raises(CommandError, match="No space left"):
        provision(tmp_path, home)
    assert not (tmp_path / "bundle").exists()
    assert not iot.list_things()["things"]
    assert certificates(iot) == {}
    assert not Device.objects.exists()
