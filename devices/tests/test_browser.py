"""The lights dashboard in a real browser (Debian's chromium), against the whole local system:
localcloud, a simulated light running the real firmware, and the shadow-events consumer."""

from __future__ import annotations

import itertools
import json
import re
import time

import pytest

from devices.tests.stack import Consumer, SimLights, point_settings_at

pytestmark = [pytest.mark.browser, pytest.mark.integration]

# Each test its own thing: the session's localcloud keeps every shadow it has seen.
THINGS = itertools.count(0xB501)
PASSWORD = "correct-horse-battery"


@pytest.fixture
def system(transactional_db, cloud, settings, tmp_path):
    point_settings_at(cloud, settings)
    thing = f"sl-{next(THINGS):012x}"
    sims = SimLights(cloud, tmp_path, {thing: 30})
    yield sims, Consumer(settings.SHADOW_EVENTS_QUEUE), thing
    sims.kill()


def sign_in(page, email: str) -> None:
    page.goto("/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    wait_ready(page)


def wait_ready(page) -> None:
    """Until static/js/devices.js has wired the controls (a change before that is lost)."""
    page.locator("#lights[data-live=on]").wait_for(state="attached")


def open_sheet(page, name: str):
    """The detail sheet of the light `name`, opened from its tile's "Adjust" button."""
    page.get_by_role("button", name=f"Adjust {name}").click()
    sheet = page.locator("#sheet")
    sheet.get_by_role("heading", name=name).wait_for()
    return sheet


def close_sheet(page) -> None:
    page.locator("#sheet").get_by_role("button", name="Close").click()
    page.locator("#sheet").wait_for(state="hidden")


def set_colour(page, name: str, color: str) -> None:
    open_sheet(page, name).locator("[data-control=color]").fill(color)
    close_sheet(page)


def pump_until(consumer, page, check, timeout_s: float = 15) -> None:
    """Run the consumer while the page polls its live feed, until check() holds."""
    waited = 0.0
    while waited < timeout_s:
        consumer.real.poll_once()
        if check():
            return
        page.wait_for_timeout(100)
        waited += 0.1
    shown = page.locator("[data-role=shown]").all_inner_texts()
    raise AssertionError(f"the page did not show the change in time; it shows {shown}")


def test_a_member_switches_a_light_and_sees_it_reported_without_reload(
    system, page, live_server, home, alice, bob, client_for
):
    from devices.models import Device

    sims, consumer, thing = system
    light = Device.objects.create(home=home, name="Hall strip", thing_name=thing)
    sims.start()
    consumer.until(lambda: Device.objects.get(pk=light.pk).connected)

    # Given alice on her dashboard
    sign_in(page, alice.email)
    card = page.locator(f"#light-{light.code}")
    card.wait_for()
    page.evaluate("window.__no_reload = true")
    status = card.locator("[data-role=status]")
    shown = card.locator("[data-role=shown]")
    pump_until(consumer, page, lambda: status.inner_text() == "Online")

    # When she switches it on with one tap on its tile (it starts off)
    toggle = card.locator("[data-control=on]")
    if toggle.get_attribute("aria-pressed") == "true":
        toggle.click()
        pump_until(consumer, page, lambda: shown.inner_text() == "shows off")
    toggle.click()
    # Then the light reports it and the card shows it, without a reload
    pump_until(consumer, page, lambda: shown.inner_text().startswith("shows on"))

    assert toggle.get_attribute("aria-pressed") == "true"
    # When she picks a colour in the light's sheet
    set_colour(page, "Hall strip", "#00ff00")
    # Then the reported state and the strip picture follow
    pump_until(consumer, page, lambda: "Green" in shown.inner_text())
    pump_until(consumer, page, lambda: card.locator("[data-role=pending]").is_hidden())
    strip = card.locator("[data-role=strip]").evaluate("e => e.style.background")
    stops = re.findall(r"rgb\((\d+), (\d+), (\d+)\)", strip)
    assert stops and all(r == b == "0" and int(g) > 0 for r, g, b in stops), strip
    assert Device.objects.get(pk=light.pk).reported["color"] == "#00ff00"

    # When another member changes the light through the API
    response = client_for(bob).patch(
        f"/api/v1/devices/{light.code}/state", data=json.dumps({"color": "#ff00ff"}),
        content_type="application/json")
    assert response.status_code == 200
    consumer.until(lambda: Device.objects.get(pk=light.pk).reported.get("color") == "#ff00ff")
    # Then alice's page shows it within 2 s of the platform knowing it, without a reload
    known = time.monotonic()
    while "Magenta" not in shown.inner_text():
        assert time.monotonic() - known <= 2.0, shown.inner_text()
        page.wait_for_timeout(50)
    assert page.evaluate("window.__no_reload") is True


def test_a_scene_saves_the_look_and_brings_it_back_in_one_click(
    system, page, live_server, home, alice
):
    from devices.models import Device, Scene

    sims, consumer, thing = system
    light = Device.objects.create(home=home, name="Hall strip", thing_name=thing)
    sims.start()
    consumer.until(lambda: Device.objects.get(pk=light.pk).connected)
    sign_in(page, alice.email)
    card = page.locator(f"#light-{light.code}")
    shown = card.locator("[data-role=shown]")
    set_colour(page, "Hall strip", "#0000ff")
    pump_until(consumer, page, lambda: "Blue" in shown.inner_text())

    # Given the blue look saved as a scene
    page.get_by_text("Save the current look as a scene").click()
    page.get_by_label("Scene name").fill("Blue hour")
    page.get_by_role("button", name="Save scene").click()
    page.get_by_text("Scene “Blue hour” saved.").wait_for()
    wait_ready(page)
    assert Scene.objects.get(name="Blue hour").states[thing]["color"] == "#0000ff"

    # When the light changes and the scene is applied
    card = page.locator(f"#light-{light.code}")
    shown = card.locator("[data-role=shown]")
    set_colour(page, "Hall strip", "#ff0000")
    pump_until(consumer, page, lambda: "Red" in shown.inner_text())
    page.get_by_role("button", name="Apply Blue hour").click()
    page.get_by_text("Scene “Blue hour” applied.").wait_for()
    wait_ready(page)

    # Then the light shows the saved look again
    card = page.locator(f"#light-{light.code}")
    pump_until(consumer, page,
               lambda: "Blue" in card.locator("[data-role=shown]").inner_text())


def test_a_viewer_sees_the_lights_with_disabled_controls(
    system, browser, live_server, home, vera
):
    from devices.models import Device

    _sims, _consumer, thing = system
    light = Device.objects.create(home=home, name="Hall strip", thing_name=thing,
                                  reported={"on": True, "color": "#ff0000", "brightness": 255})
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        sign_in(page, vera.email)
        card = page.locator(f"#light-{light.code}")
        card.wait_for()
        wait_ready(page)
        assert card.locator("[data-control=on]").is_disabled()
        sheet = open_sheet(page, "Hall strip")
        for control in ("brightness", "color", "effect", "speed"):
            assert sheet.locator(f"[data-control={control}]").is_disabled(), control
        assert sheet.get_by_role("button", name="Warm white").is_disabled()
        close_sheet(page)
        assert page.get_by_role("button", name="Save scene").count() == 0
    finally:
        context.close()
