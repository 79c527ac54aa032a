"""Add a light in a real browser (Debian's chromium), against the whole local system: a batch
made by provision_batch, its printed code, the light in factory state running the real firmware
(it provisions itself over TLS with the batch's claim certificate, then blinks when the portal
asks), and the shadow-events consumer."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import threading

import pytest
from django.core.management import call_command

from devices.tests.stack import ROOT, Consumer, point_settings_at
from devices.tests.test_browser import pump_until, sign_in
from localcloud.testing import eventually

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture
def batch(transactional_db, cloud, settings, tmp_path):
    """One light made by provision_batch against localcloud; its CSV row (the label)."""
    point_settings_at(cloud, settings)
    settings.IOT_SERVER_CA_FILE = str(cloud.ca_path)
    settings.IOT_MQTT_HOST = cloud.mqtts_host
    settings.IOT_MQTT_PORT = cloud.mqtts_port
    call_command("provision_batch", "--count", "1", "--out", str(tmp_path / "batch"),
                 "--portal", "http://testserver")
    with (tmp_path / "batch" / "lights.csv").open() as handle:
        (row,) = csv.DictReader(handle)
    row["folder"] = tmp_path / "batch" / row["serial"]
    return row


class FactoryLight:
    """`python -m firmware.sim --device-dir` on a batch light's bundle (claim certificate only)."""

    def __init__(self, folder) -> None:
        self.folder = folder
        self.lines: list[str] = []
        self.proc: subprocess.Popen[str] | None = None
        self.seen: set[str] = set()

    def plug_in(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "firmware.sim", "--device-dir", str(self.folder)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def blinked(self) -> bool:
        """The identify flashes, seen so far: the whole strip lit evenly in one frame and
        completely dark in another (a light that is on stays lit, one that is off stays dark;
        the power budget may dim the flash)."""
        try:
            pixels = json.loads((self.folder / "frame.json").read_text())["pixels"]
        except (OSError, ValueError, KeyError):
            return False
        if pixels and all(p == pixels[0] for p in pixels):
            if max(pixels[0]) == 0:
                self.seen.add("dark")
            elif min(pixels[0]) > 0:
                self.seen.add("lit")
        return self.seen == {"dark", "lit"}

    def unplug(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def test_a_member_adds_a_light_with_its_printed_code_sees_it_blink_names_it_and_switches_it(
        batch, cloud, settings, page, live_server, home, alice, tmp_path):
    from devices.models import Device

    thing, code = batch["thing"], batch["claim_code"]
    home.rooms.create(name="Porch")
    light = FactoryLight(batch["folder"])
    assert not (batch["folder"] / "certs/certificate.pem.crt").exists()  # factory state
    consumer = Consumer(settings.SHADOW_EVENTS_QUEUE)
    try:
        # Given alice on her empty dashboard
        sign_in(page, alice.email)
        page.get_by_role("link", name="Add a light").first.click()

        # When she types the code from the label
        page.get_by_label("Claim code").fill(code.lower().replace("-", " "))
        page.get_by_role("button", name="Add this light").click()

        # Then the page waits for the light, and once it is plugged in, it blinks
        page.get_by_text("Waiting for the light to come online").wait_for()
        light.plug_in()
        eventually(lambda: "sim ready" in light.lines, 20)
        # It provisioned itself: its own certificate is in its folder now.
        assert (batch["folder"] / "certs/certificate.pem.crt").exists()
        seen_blink = False

        def online_and_blinking() -> bool:
            nonlocal seen_blink
            seen_blink = seen_blink or light.blinked()
            return seen_blink and page.get_by_text("it is blinking now").is_visible()

        pump_until(consumer, page, online_and_blinking, timeout_s=20)

        # When she names it and picks its room
        page.get_by_label("Name").fill("Porch strip")
        page.get_by_label("Room").select_option(label="Porch")
        page.get_by_role("button", name="Done").click()

        # Then it is on her dashboard, and she can switch it
        device = Device.objects.get(thing_name=thing)
        assert (device.name, device.room.name, device.home) == ("Porch strip", "Porch", home)
        card = page.locator(f"#light-{device.code}")
        card.wait_for()
        shown = card.locator("[data-role=shown]")
        pump_until(consumer, page, lambda: card.locator("[data-role=status]").inner_text()
                   == "Online")
        card.locator("[data-control=on]").check()
        pump_until(consumer, page, lambda: shown.inner_text().startswith("shows on"))
    finally:
        light.unplug()
