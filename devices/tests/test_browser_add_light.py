"""Add a light in a real browser (Debian's chromium), against the whole local system: a batch
made by provision_batch, its printed code, a simulated light running the real firmware that
blinks when the portal asks, and the shadow-events consumer."""

from __future__ import annotations

import csv

import pytest
from django.core.management import call_command

from devices.tests.stack import Consumer, SimLights, point_settings_at
from devices.tests.test_browser import pump_until, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture
def batch(transactional_db, cloud, settings, tmp_path):
    """One light made by provision_batch against localcloud; its CSV row (the label)."""
    point_settings_at(cloud, settings)
    settings.IOT_SERVER_CA_FILE = str(cloud.ca_path)
    call_command("provision_batch", "--count", "1", "--out", str(tmp_path / "batch"),
                 "--portal", "http://testserver")
    with (tmp_path / "batch" / "lights.csv").open() as handle:
        (row,) = csv.DictReader(handle)
    return row


def blinked(sims, thing: str) -> bool:
    """The identify flash: every pixel at the same bright level while the light is off."""
    pixels = sims.frame(thing) or []
    return bool(pixels) and all(p == pixels[0] for p in pixels) and min(pixels[0]) > 100


def test_a_member_adds_a_light_with_its_printed_code_sees_it_blink_names_it_and_switches_it(
        batch, cloud, settings, page, live_server, home, alice, tmp_path):
    from devices.models import Device

    thing, code = batch["thing"], batch["claim_code"]
    home.rooms.create(name="Porch")
    # The light, as it is once it has provisioned itself with its claim certificate.
    sims = SimLights(cloud, tmp_path / "lights", {thing: 30})
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
        sims.start()
        seen_blink = False

        def online_and_blinking() -> bool:
            nonlocal seen_blink
            seen_blink = seen_blink or blinked(sims, thing)
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
        sims.kill()
