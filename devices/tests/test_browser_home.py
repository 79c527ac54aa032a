"""The home screen on a phone (390×844): at least four lights on the first screen, every tap
target at least 44 px, the detail sheet; its screenshots are the ones in docs/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOCS = Path(__file__).resolve().parents[2] / "docs"
LOOKS = [
    ("Sofa strip", {"on": True, "brightness": 230, "color_temp_k": 2700}),
    ("Reading lamp", {"on": True, "brightness": 120, "color": "#ffd000"}),
    ("Shelf", {"on": True, "brightness": 200, "color": "#0000ff", "effect": "rainbow"}),
    ("TV backlight", {"on": False, "color": "#8000ff"}),
    ("Desk strip", {"on": True, "brightness": 255, "color_temp_k": 6500}),
    ("Window", {"on": True, "brightness": 90, "color": "#ff0060", "effect": "breathe"}),
]


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844},
                                  has_touch=True, device_scale_factor=2, color_scheme="dark")
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def furnished(home):
    from devices.models import Device, Room, Scene

    rooms = [Room.objects.create(home=home, name=name) for name in ("Living room", "Office")]
    lights = []
    for i, (name, look) in enumerate(LOOKS):
        reported = {"effect": "solid", "effects": ["solid", "rainbow", "breathe", "candle"],
                    **look}
        lights.append(Device.objects.create(
            home=home, room=rooms[i // 4], name=name, thing_name=f"sl-00000000ca{i:02x}",
            connected=True, reported=reported, desired=dict(look)))
    for name in ("Evening", "Movie night", "Wake up"):
        Scene.objects.create(home=home, name=name, states={lights[0].thing_name: {"on": True}})
    return lights


def sign_in(page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#lights[data-live=on]").wait_for(state="attached")


def small_targets(page) -> list[str]:
    """Controls under 44×44 px (WCAG 2.5.5), links inside running text excepted."""
    return page.evaluate("""() => [...document.querySelectorAll(
        'button, input:not([type=hidden]), select, summary, nav a, .button, .small-link')]
      .filter((e) => e.offsetParent !== null && !e.closest('[hidden], dialog:not([open])'))
      // A check box's target is its label (the whole label toggles it).
      .map((e) => [e, (['checkbox', 'radio'].includes(e.type) && e.closest('label')
                       ? e.closest('label') : e).getBoundingClientRect()])
      .filter(([e, r]) => r.height < 44 || (r.width < 44 && e.type !== 'range'))
      .map(([e, r]) => (e.textContent.trim() || e.getAttribute('aria-label') || e.name)
                        + ' ' + Math.round(r.width) + 'x' + Math.round(r.height))""")


def test_a_phone_shows_four_lights_on_the_first_screen_with_big_tap_targets(
    phone, live_server, home, alice
):
    furnished(home)
    page = phone
    sign_in(page, alice.email)
    page.locator(".scene-chips").get_by_role("button", name="Apply Evening").wait_for()

    # At least four tiles wholly on the first screen, tinted by their lights
    visible = page.evaluate("""() => [...document.querySelectorAll('.tile')]
      .filter((t) => t.getBoundingClientRect().bottom <= window.innerHeight).length""")
    assert visible >= 4
    tint = page.locator(".tile", has_text="Reading lamp").evaluate(
        "t => getComputedStyle(t).getPropertyValue('--tint')")
    r, g, b, _alpha = (float(v) for v in tint.strip()[5:-1].split(","))
    assert r > 100 and g > 80 and b < 40, tint  # the lamp's yellow, as bright as it shows
    assert page.locator(".tile", has_text="TV backlight").evaluate(
        "t => getComputedStyle(t).getPropertyValue('--tint')") == ""  # off: untinted
    # Plain words, no hex codes
    assert page.locator(".tile", has_text="Sofa strip").locator(
        "[data-role=shown]").inner_text() == "shows on · 90 % · Warm white"
    assert "#" not in page.locator("#lights").inner_text()
    assert small_targets(page) == []
    if os.environ.get("SMARTLIGHT_SCREENSHOTS"):
        page.screenshot(path=str(DOCS / "home-phone.png"))

    # The detail sheet: only the controls the effect uses
    page.get_by_role("button", name="Adjust Sofa strip").click()
    sheet = page.locator("#sheet")
    sheet.get_by_role("heading", name="Sofa strip").wait_for()
    assert sheet.locator("[data-control=brightness]").input_value() == "90"
    assert sheet.locator("[data-control=speed]").is_hidden()  # solid has no speed
    assert sheet.get_by_role("button", name="Warm white").is_visible()
    assert sheet.get_by_role("slider", name="Colour wheel (hue)").is_visible()
    assert small_targets(page) == []
    if os.environ.get("SMARTLIGHT_SCREENSHOTS"):
        page.screenshot(path=str(DOCS / "detail-sheet-phone.png"))
    sheet.get_by_role("button", name="Close").click()

    page.get_by_role("button", name="Adjust Shelf").click()
    sheet.get_by_role("heading", name="Shelf").wait_for()
    assert sheet.locator("[data-control=effect]").input_value() == "rainbow"
    assert sheet.locator("[data-control=speed]").is_visible()  # rainbow moves: speed shown
    assert sheet.get_by_role("option", name="Rainbow").count() == 1
