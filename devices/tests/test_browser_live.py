"""The dashboard stays live and honest, on a phone (390×844) and a desktop: controls follow the
light unless being dragged, a light that drops off reads offline, a signed-out session says so."""

from __future__ import annotations

import json

import pytest

from devices.tests.stack import KEEPALIVE_S
from devices.tests.test_browser import (
    PASSWORD,
    open_sheet,
    pump_until,
    set_colour,
    sign_in,
    system,
    wait_ready,
)

pytestmark = [pytest.mark.browser, pytest.mark.integration]
__all__ = ["system"]  # the fixture, imported for these tests

VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


@pytest.fixture(params=list(VIEWPORTS))
def screen(request, browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORTS[request.param],
                                  has_touch=request.param == "phone")
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def online_light(system, home):
    from devices.models import Device, Room

    sims, consumer, thing = system
    room = Room.objects.create(home=home, name="Office")
    light = Device.objects.create(home=home, room=room, name="Desk strip", thing_name=thing)
    sims.start()
    consumer.until(lambda: Device.objects.get(pk=light.pk).connected)
    return light


def test_a_touched_slider_follows_the_light_again_and_so_does_the_rooms(
    system, screen, live_server, home, alice, bob, client_for
):
    from devices.models import Device

    _sims, consumer, _thing = system
    light = online_light(system, home)
    page = screen
    sign_in(page, alice.email)
    slider = open_sheet(page, "Desk strip").locator("[data-control=brightness]")
    room_slider = page.get_by_label("Brightness of every light in Office (percent)")

    # Given alice set the light to 10 % with its slider (and the slider keeps its focus)
    slider.fill("10")
    consumer.until(lambda: Device.objects.get(pk=light.pk).reported.get("brightness") == 26)
    assert page.evaluate("document.activeElement.dataset.control") == "brightness"

    # When bob sets it to 90 % through the API
    response = client_for(bob).patch(
        f"/api/v1/devices/{light.code}/state", data=json.dumps({"brightness": 230}),
        content_type="application/json")
    assert response.status_code == 200
    consumer.until(lambda: Device.objects.get(pk=light.pk).reported.get("brightness") == 230)

    # Then both the light's slider and its room's slider show 90 %
    pump_until(consumer, page, lambda: slider.input_value() == "90")
    pump_until(consumer, page, lambda: room_slider.input_value() == "90")


def test_a_light_that_loses_power_reads_offline_within_the_last_will_time(
    system, screen, live_server, home, alice
):
    sims, consumer, _thing = system
    light = online_light(system, home)
    page = screen
    sign_in(page, alice.email)
    card = page.locator(f"#light-{light.code}")
    status = card.locator("[data-role=status]")
    pump_until(consumer, page, lambda: status.inner_text() == "Online")
    assert card.locator("[data-role=last-seen]").is_hidden()

    # When the power is cut (no MQTT DISCONNECT: the broker publishes the Last Will)
    sims.kill()

    # Then the card reads offline, with when it was last seen, within the keepalive's 1.5 times
    pump_until(consumer, page, lambda: status.inner_text() == "Offline",
               timeout_s=KEEPALIVE_S * 1.5)
    assert card.locator("[data-role=last-seen]").inner_text().startswith("last seen")
    # And a change made meanwhile says it waits for the light
    set_colour(page, "Desk strip", "#0000ff")
    pump_until(consumer, page, lambda: card.locator("[data-role=pending]").inner_text()
               == "applies when the light is back")


def test_signing_out_elsewhere_shows_a_banner_with_sign_in_instead_of_silent_clicks(
    screen, live_server, home, alice
):
    from devices.models import Device

    light = Device.objects.create(home=home, name="Hall strip", thing_name="sl-00000000b5ff",
                                  connected=True, desired={"on": True},
                                  reported={"on": True, "brightness": 255})
    page = screen
    sign_in(page, alice.email)
    banner = page.locator("#session-banner")
    assert banner.is_hidden()

    # Given alice signs out in another tab of the same browser
    other = page.context.new_page()
    other.goto("/")
    other.get_by_role("button", name="Sign out").click()
    other.get_by_role("button", name="Sign in").wait_for()
    other.close()

    # When she flips the light's switch on the first tab
    page.locator(f"#light-{light.code} [data-control=on]").click()

    # Then the banner says she is signed out and offers to sign in again
    banner.wait_for(state="visible")
    assert "signed out" in banner.inner_text()
    page.get_by_role("link", name="Sign in again").click()
    page.get_by_label("E-mail").fill(alice.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    wait_ready(page)
    # And nothing was changed while she was signed out
    assert Device.objects.get(pk=light.pk).desired == {"on": True}


def test_a_warm_white_swatch_reaches_the_simulated_lights_frame(
    system, screen, live_server, home, alice
):
    from devices.models import Device
    from smartlight import contract

    sims, consumer, thing = system
    light = online_light(system, home)
    page = screen
    sign_in(page, alice.email)
    card = page.locator(f"#light-{light.code}")
    shown = card.locator("[data-role=shown]")
    toggle = card.locator("[data-control=on]")
    if toggle.get_attribute("aria-pressed") != "true":
        toggle.click()
    sheet = open_sheet(page, "Desk strip")
    sheet.locator("[data-control=brightness]").fill("100")
    pump_until(consumer, page, lambda: "100 %" in shown.inner_text())

    # When alice taps the warm white swatch in the light's sheet
    sheet.get_by_role("button", name="Warm white").click()

    # Then the light reports 2700 K, the card says so in words, and the strip's frame is the
    # contract's warm white (through the firmware's gamma: red full, blue well below green)
    pump_until(consumer, page, lambda: shown.inner_text() == "shows on · 100 % · Warm white")
    assert Device.objects.get(pk=light.pk).reported["color_temp_k"] == 2700
    assert "#" not in shown.inner_text()
    # The frame: the table's white after gamma 2.8 (the power limit scales all three alike)
    r, g, b = (int((v / 255) ** 2.8 * 255 + 0.5) for v in contract.white_rgb(2700))

    def warm_white(frame) -> bool:
        return bool(frame) and all(
            p[0] > 0 and abs(p[1] / p[0] - g / r) < 0.03 and abs(p[2] / p[0] - b / r) < 0.03
            for p in frame)

    consumer.until(lambda: warm_white(sims.frame(thing)))


def test_one_tap_toggles_a_tile_its_room_and_a_scene_chip_applies_a_scene(
    system, screen, live_server, home, alice
):
    from devices.models import Device, Scene

    _sims, consumer, thing = system
    light = online_light(system, home)
    Scene.objects.create(home=home, name="Night light", states={
        thing: {"on": True, "brightness": 26, "color_temp_k": 2200}})
    page = screen
    sign_in(page, alice.email)
    card = page.locator(f"#light-{light.code}")
    toggle = card.locator("[data-control=on]")
    shown = card.locator("[data-role=shown]")

    # One tap on the tile switches the light, whatever it was
    was_on = toggle.get_attribute("aria-pressed") == "true"
    toggle.click()
    pump_until(consumer, page, lambda: shown.inner_text().startswith(
        "shows off" if was_on else "shows on"))
    toggle.click()
    pump_until(consumer, page, lambda: shown.inner_text().startswith(
        "shows on" if was_on else "shows off"))

    # The room's tile switches the room: all off while any light is on
    room_toggle = page.get_by_role("button", name="in Office")
    if room_toggle.get_attribute("aria-pressed") != "true":
        room_toggle.click()
        pump_until(consumer, page, lambda: shown.inner_text().startswith("shows on"))
    room_toggle.click()
    pump_until(consumer, page, lambda: shown.inner_text() == "shows off")
    pump_until(consumer, page, lambda: room_toggle.inner_text().startswith("All on"))
    assert Device.objects.get(pk=light.pk).reported["on"] is False

    # A scene chip applies the scene in one tap
    page.get_by_role("button", name="Apply Night light").click()
    page.get_by_text("Scene “Night light” applied.").wait_for()
    wait_ready(page)
    shown = page.locator(f"#light-{light.code} [data-role=shown]")
    pump_until(consumer, page, lambda: shown.inner_text() == "shows on · 10 % · Candle white")
