"""The simulator's light (the firmware's own MQTT client on CPython sockets and ssl) against
localcloud's TLS listener with client certificates: a manually provisioned bundle, and a
factory-state bundle that provisions itself by fleet provisioning, with a power cut between
CreateKeysAndCertificate and RegisterThing."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from firmware.sim.fleet import Fleet, SimLight
from localcloud.cloud import CLAIM_POLICY, DEVICE_POLICY, FLEET_TEMPLATE_NAME, SERIALS_TABLE
from localcloud.testing import LocalCloud, ThingNames, eventually
from localcloud.tests.test_just_in_time import JITP_TEMPLATE, register_ca
from localcloud.tests.tls import MakerCA

pytestmark = pytest.mark.integration

new_thing = ThingNames()


@pytest.fixture(scope="module")
def cloud():
    with LocalCloud(things=new_thing.prefix) as cloud:
        yield cloud


def certificate(cloud, policy: str) -> dict:
    made = cloud.client("iot").create_keys_and_certificate(setAsActive=True)
    cloud.client("iot").attach_policy(policyName=policy, target=made["certificateArn"])
    return made


def write_bundle(cloud, folder: Path, thing: str, certs: dict[str, str], **config) -> Path:
    (folder / "certs").mkdir(parents=True)
    (folder / "certs" / "AmazonRootCA1.pem").write_text(cloud.ca_path.read_text())
    for name, text in certs.items():
        (folder / "certs" / name).write_text(text)
    doc = {"thing": thing, "endpoint": cloud.mqtts_host, "port": cloud.mqtts_port,
           "led_count": 8, "max_ma": 0, **config}  # fmt: skip
    (folder / "config.json").write_text(json.dumps(doc))
    return folder


def desire(cloud, thing: str, state: dict) -> None:
    cloud.client("iot-data").update_thing_shadow(
        thingName=thing, payload=json.dumps({"state": {"desired": state}})
    )


def reported(cloud, thing: str) -> dict:
    doc = json.loads(cloud.client("iot-data").get_thing_shadow(thingName=thing)["payload"].read())
    return doc["state"].get("reported", {})


def test_a_manually_provisioned_light_connects_over_tls_with_its_certificate(cloud, tmp_path):
    thing = new_thing()
    iot = cloud.client("iot")
    iot.create_thing(thingName=thing, thingTypeName="smartlight")
    made = certificate(cloud, DEVICE_POLICY)
    iot.attach_thing_principal(thingName=thing, principal=made["certificateArn"])
    folder = write_bundle(cloud, tmp_path / thing, thing, {
        "certificate.pem.crt": made["certificatePem"],
        "private.pem.key": made["keyPair"]["PrivateKey"],
    })  # fmt: skip

    with Fleet.from_device_dir(folder) as fleet:
        light = fleet.lights[thing]
        assert json.loads((folder / "config.json").read_text())["tls"] is True
        assert fleet.wait_connected(15)
        desire(cloud, thing, {"color": "#00ff00", "brightness": 255, "transition_ms": 0})
        assert light.wait_for(lambda px: px[0] == [0, 255, 0], 10)
        eventually(lambda: reported(cloud, thing).get("color") == "#00ff00")
        assert reported(cloud, thing)["connected"] is True


def test_a_light_without_a_valid_certificate_is_refused(cloud, tmp_path):
    thing = new_thing()
    made = certificate(cloud, DEVICE_POLICY)  # a certificate of no thing: policy refuses it
    cloud.client("iot").update_certificate(
        certificateId=made["certificateId"], newStatus="INACTIVE"
    )
    folder = write_bundle(cloud, tmp_path / thing, thing, {
        "certificate.pem.crt": made["certificatePem"],
        "private.pem.key": made["keyPair"]["PrivateKey"],
    })  # fmt: skip
    lines: list[str] = []
    with Fleet.from_device_dir(folder, log=lines.append) as fleet:
        eventually(lambda: any("cloud: connect failed" in line for line in lines), timeout=15)
        assert not fleet.lights[thing].connected


@pytest.mark.parametrize("kind", ["JITP", "JITR"])
def test_a_light_with_a_makers_certificate_connects_after_just_in_time_registration(
    cloud, tmp_path, kind
):
    # The maker's CA signed the light's certificate; AWS IoT drops its first connection while
    # it registers the certificate (JITP applies the CA's template, JITR leaves activation to
    # a Lambda). The firmware needs nothing special: it backs off and connects again.
    maker = MakerCA()
    register_ca(cloud, maker, template=JITP_TEMPLATE if kind == "JITP" else None)
    thing = new_thing()
    made = maker.device(tmp_path / "maker", thing)
    folder = write_bundle(cloud, tmp_path / thing, thing, {
        "certificate.pem.crt": made.cert.read_text(),
        "private.pem.key": made.key.read_text(),
    })  # fmt: skip
    lines: list[str] = []
    with Fleet.from_device_dir(folder, log=lines.append) as fleet:
        assert fleet.wait_connected(30), "\n".join(lines[-10:])
        desire(cloud, thing, {"color": "#ff00ff", "brightness": 255, "transition_ms": 0})
        assert fleet.lights[thing].wait_for(lambda px: px[0] == [255, 0, 255], 10)
    assert any("cloud: connect failed" in line or "link lost" in line for line in lines)
    assert cloud.client("iot").describe_thing(thingName=thing)["thingTypeName"] == "smartlight"


def made_serial(cloud) -> str:
    serial = new_thing()[len("sl-") :]
    cloud.client("dynamodb").put_item(
        TableName=SERIALS_TABLE,
        Item={"serial": {"S": serial}, "thing": {"S": f"sl-{serial}"},
              "made_at": {"S": "2026-11-29T23:00:00Z"}, "status": {"S": "made"}},  # fmt: skip
    )
    return serial


def factory_bundle(cloud, tmp_path: Path) -> tuple[Path, str]:
    serial = made_serial(cloud)
    claim = certificate(cloud, CLAIM_POLICY)
    thing = f"sl-{serial}"
    folder = write_bundle(
        cloud,
        tmp_path / thing,
        thing,
        {"claim.pem.crt": claim["certificatePem"],
         "claim.private.pem.key": claim["keyPair"]["PrivateKey"]},  # fmt: skip
        serial=serial,
        template=FLEET_TEMPLATE_NAME,
        claim_code="K7Q-9XD-2MP",
        ap_password="lamp-8841-ok",
    )
    return folder, serial


def test_a_factory_light_provisions_itself_and_follows_its_shadow(cloud, tmp_path):
    folder, serial = factory_bundle(cloud, tmp_path)
    thing = f"sl-{serial}"
    lines: list[str] = []
    with Fleet.from_device_dir(folder, log=lines.append) as fleet:
        assert fleet.wait_connected(20), "\n".join(lines)
        desire(cloud, thing, {"color": "#0000ff", "brightness": 255, "transition_ms": 0})
        assert fleet.lights[thing].wait_for(lambda px: px[0] == [0, 0, 255], 10)

    certs = folder / "certs"
    assert (certs / "certificate.pem.crt").read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY-----" in (certs / "private.pem.key").read_text()
    assert not list(certs.glob("*.tmp"))
    described = cloud.client("iot").describe_thing(thingName=thing)
    assert described["thingTypeName"] == "smartlight"
    assert described["attributes"] == {"serial": serial}
    assert any(line.endswith(f"provision: registering serial {serial}") for line in lines)


def test_a_power_cut_between_the_two_calls_leaves_a_light_that_provisions_on_next_boot(
    cloud, tmp_path
):
    folder, serial = factory_bundle(cloud, tmp_path)
    thing = f"sl-{serial}"
    powered = threading.Event()
    cut = threading.Event()

    def log(line: str) -> None:
        # Between CreateKeysAndCertificate's answer and the RegisterThing request the power
        # goes: this light's loop stops right here, for good.
        if "provision: registering serial" in line and not cut.is_set():
            cut.set()
            powered.wait()

    first = SimLight(folder, log).start()
    try:
        assert cut.wait(20)
        certs = folder / "certs"
        assert (certs / "private.pem.key").exists()
        assert not (certs / "certificate.pem.crt").exists()
        iot = cloud.client("iot")
        with pytest.raises(iot.exceptions.ResourceNotFoundException):
            iot.describe_thing(thingName=thing)

        # Power back: the light boots from the same flash.
        second = SimLight(folder).start()
        try:
            eventually(lambda: second.connected, timeout=20)
            desire(cloud, thing, {"on": True, "color": "#ff0000", "transition_ms": 0})
            assert second.wait_for(lambda px: px[0][0] > 0 and px[0][1:] == [0, 0], 10)
        finally:
            second.stop()
        assert (certs / "certificate.pem.crt").exists()
        assert iot.describe_thing(thingName=thing)["attributes"] == {"serial": serial}
    finally:
        powered.set()
        first.stop()
