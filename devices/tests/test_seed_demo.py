from __future__ import annotations

import io
import re

from django.core.management import call_command

from accounts.models import Home
from devices.management.commands.seed_demo import DEMO_LIGHTS
from devices.models import Device


def test_it_creates_three_demo_lights_in_demo_home(db, settings, tmp_path):
    settings.BASE_DIR = tmp_path
    call_command("seed_demo", "--quiet")
    home = Home.objects.get(name="Demo Home")
    lights = {d.thing_name: d for d in Device.objects.filter(home=home)}
    assert sorted(lights) == sorted(t for t, *_ in DEMO_LIGHTS)
    assert sorted(d.reported["led_count"] for d in lights.values()) == [30, 60, 150]
    assert {d.room.name for d in lights.values()} == {"Office", "Living room"}


def test_running_it_again_changes_nothing(db, settings, tmp_path):
    settings.BASE_DIR = tmp_path
    call_command("seed_demo", "--quiet")
    desk = Device.objects.get(thing_name=DEMO_LIGHTS[0][0])
    desk.name = "My desk"
    desk.save()
    call_command("seed_demo", "--quiet")
    assert Device.objects.count() == 3 and Home.objects.count() == 1
    assert Device.objects.get(pk=desk.pk).name == "My desk"


def test_it_prints_the_factory_lights_claim_code_next_to_the_password(db, settings, tmp_path):
    import io

    from devices import claims
    from devices.management.commands.seed_demo import FACTORY_SERIAL
    from devices.models import Serial

    settings.BASE_DIR = tmp_path
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    text = out.getvalue()
    password = (tmp_path / "var" / "demo-password.txt").read_text().strip()
    code = re.search(r"Add a light with claim code (\S+) ", text).group(1)
    assert f"password {password}\n  Add a light with claim code {code} " in text
    assert f"http://127.0.0.1:8000/claim/{code}" in text
    serial = Serial.objects.get(serial=FACTORY_SERIAL)
    assert serial.code_hash == claims.code_hash(code) and serial.method == "fleet"
    # The same code on every run: it is the light's label.
    again = io.StringIO()
    call_command("seed_demo", stdout=again)
    assert f"claim code {code} " in again.getvalue()
    assert Serial.objects.count() == 1


def test_the_factory_light_bundle_holds_only_the_claim_certificate(iot, aws, settings,
                                                                   tmp_path):
    import json

    from devices.management.commands.seed_demo import FACTORY_SERIAL
    from devices.tests.conftest import policies_of

    settings.BASE_DIR = tmp_path
    settings.AWS_MODE = "local"
    settings.MOTO_ENDPOINT_URL = ""  # moto in-process answers AWS's own endpoints
    settings.IOT_DATA_ENDPOINT_URL = ""
    call_command("run_factory_light", "--no-sim", "--lights-dir", str(tmp_path / "lights"),
                 stdout=io.StringIO())
    folder = tmp_path / "lights" / f"sl-{FACTORY_SERIAL}"
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == [
        "certs/AmazonRootCA1.pem", "certs/claim.pem.crt", "certs/claim.private.pem.key",
        "config.json"]
    config = json.loads((folder / "config.json").read_text())
    label = json.loads((tmp_path / "var" / "demo-factory-light.json").read_text())
    assert config["claim_code"] == label["claim_code"] and config["serial"] == FACTORY_SERIAL
    assert config["template"] == "smartlight-fleet"
    (cert,) = iot.list_certificates()["certificates"]
    assert cert["status"] == "ACTIVE" and policies_of(iot, cert["certificateArn"]) == [
        "smartlight-claim"]
    item = aws.client("dynamodb").get_item(TableName=settings.SERIALS_TABLE,
                                           Key={"serial": {"S": FACTORY_SERIAL}})["Item"]
    assert item["status"]["S"] == "made"
