"""On a phone (390×844, touch) and a desktop: a long press on a tile opens that light's sheet
without changing the light, the keyboard opens and closes the sheet too, and pages driven by
htmx show the signed-out banner when the session ended (or changed) in another tab."""

from __future__ import annotations

import json

import pytest

from devices.tests.conftest import register_thing
from devices.tests.test_browser import PASSWORD, sign_in
from devices.tests.test_browser_live import screen

pytestmark = [pytest.mark.browser]
__all__ = ["screen"]  # the fixture, imported for these tests

# Well over the page's long-press time (LONG_PRESS_MS in static/js/devices.js, 500 ms).
HOLD_MS = 700

# Chromium ends a touch held shorter than its own long-press time (1 s on desktop systems; with
# DevTools touch input, as here, even a 2.5 s hold) with a tap, and a tap clicks whatever is
# under the finger when it lifts: by then the sheet, opened during the hold, is there (here its
# "Warm white" swatch). The page must swallow that one click wherever it lands.


def is_phone(page) -> bool:
    return page.evaluate("navigator.maxTouchPoints") > 0


def long_press(page, target) -> None:
    """Hold a finger (phone) or the mouse button (desktop) on the middle of `target`.

    Playwright's touchscreen only taps, so the finger goes down and up through the DevTools
    protocol: real touch input, from which Chromium makes the pointer events and the click.
    """
    box = target.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    if is_phone(page):
        cdp = page.context.new_cdp_session(page)
        cdp.send("Input.dispatchTouchEvent",
                 {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
        page.wait_for_timeout(HOLD_MS)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        cdp.detach()
    else:
        page.mouse.move(x, y)
        page.mouse.down()
        page.wait_for_timeout(HOLD_MS)
        page.mouse.up()


def state_requests(page, light) -> list:
    """Every state change the page sends for `light` from now on, in the order sent (the
    page changes a light through the API: PATCH /api/v1/devices/<code>/state)."""
    sent: list = []
    page.on("request", lambda r: sent.append(r) if r.method == "PATCH"
            and r.url.endswith(f"/api/v1/devices/{light.code}/state") else None)
    return sent


def fields(request) -> str:
    """A JSON state change as "key=value" pairs, enough to tell which change it asked."""
    body = json.loads(request.post_data or "{}")
    return "&".join(f"{key}={json.dumps(value)}" for key, value in sorted(body.items()))


@pytest.fixture
def shadowed(aws, light):
    """alice's "Sofa strip" (on, 200 of 255) with a shadow that takes changes: a change the
    page should not have sent would really be made, and show in the database."""
    register_thing(aws, light.thing_name)
    return light


def test_a_long_press_on_a_tile_opens_its_sheet_and_does_not_switch_the_light(
    screen, live_server, shadowed, alice
):
    from devices.models import Device

    page = screen
    light = shadowed
    sign_in(page, alice.email)
    sent = state_requests(page, light)
    toggle = page.locator(f"#light-{light.code} [data-control=on]")
    sheet = page.locator("#sheet")
    assert toggle.get_attribute("aria-pressed") == "true"

    # When alice holds her finger (or the mouse button) on the light's tile
    long_press(page, toggle)

    # Then the one sheet opens for that light: its name as title, its brightness on the slider
    sheet.get_by_role("heading", name="Sofa strip").wait_for()
    assert sheet.evaluate("d => d.open") is True
    assert sheet.locator("[data-role=sheet-title]").inner_text() == "Sofa strip"
    assert sheet.locator("[data-control=brightness]").input_value() == "78"  # 200 of 255
    assert sheet.locator("[data-role=brightness-out]").inner_text() == "78 %"
    assert toggle.get_attribute("aria-pressed") == "true"

    # And the light was not changed: a short tap afterwards (which does switch it, and opens
    # nothing) sends the only request, where anything sent by the long press would come first
    sheet.get_by_role("button", name="Close").click()
    sheet.wait_for(state="hidden")
    with page.expect_response(lambda r: r.request in sent and fields(r.request) == "on=false"):
        toggle.tap() if is_phone(page) else toggle.click()
    assert [fields(r) for r in sent] == ["on=false"], "the long press changed the light"
    assert sheet.is_hidden()
    assert Device.objects.get(pk=light.pk).desired == {"on": False}


def test_adjust_opens_the_sheet_from_the_keyboard_and_escape_closes_it_back_to_adjust(
    screen, live_server, shadowed, alice
):
    from devices.models import Device

    page = screen
    light = shadowed
    sign_in(page, alice.email)
    sent = state_requests(page, light)
    adjust = page.get_by_role("button", name="Adjust Sofa strip")
    sheet = page.locator("#sheet")

    # When alice presses Enter on the tile's "Adjust" button
    adjust.focus()
    page.keyboard.press("Enter")

    # Then the light's sheet opens with the focus inside it
    sheet.get_by_role("heading", name="Sofa strip").wait_for()
    assert sheet.locator("[data-control=brightness]").input_value() == "78"
    assert sheet.evaluate("d => d.contains(document.activeElement)") is True

    # And Escape closes it, the focus back on the button that opened it
    page.keyboard.press("Escape")
    sheet.wait_for(state="hidden")
    assert adjust.evaluate("b => b === document.activeElement") is True
    # Opening and closing changed nothing
    assert sent == []
    assert Device.objects.get(pk=light.pk).desired == {"on": True}


# --- htmx pages with a session that ended elsewhere -------------------------------------------
def sign_out_elsewhere(page, sign_in_again_as: str = "") -> None:
    """Sign out in another tab of the same browser (and, if asked, sign in there again, which
    gives the browser a new form token the first tab does not know)."""
    other = page.context.new_page()
    other.goto("/")
    other.get_by_role("button", name="Sign out").click()
    other.get_by_role("button", name="Sign in").wait_for()
    if sign_in_again_as:
        other.get_by_label("E-mail").fill(sign_in_again_as)
        other.get_by_label("Password").fill(PASSWORD)
        other.get_by_role("button", name="Sign in").click()
        other.get_by_role("button", name="Sign out").wait_for()
    other.close()


def open_members(page, home) -> str:
    """The Members page of `home`, once loaded (htmx, a deferred script, wired its forms)."""
    url = f"/homes/{home.code}/members/"
    page.goto(url, wait_until="load")
    page.wait_for_function("() => window.htmx !== undefined")
    return url


def test_an_htmx_form_sent_after_signing_out_elsewhere_shows_the_banner_and_changes_nothing(
    aws, screen, live_server, home, alice
):
    from accounts.models import Invitation

    page = screen
    sign_in(page, alice.email)
    url = open_members(page, home)
    banner = page.locator("#session-banner")
    assert banner.is_hidden()
    page.get_by_label("E-mail").fill("dora@example.com")

    # Given alice signs out in another tab
    sign_out_elsewhere(page)

    # When she sends the invitation on the first tab (htmx: the page stays, #main would swap)
    with page.expect_response(lambda r: r.url.endswith(f"{url}invite/")) as answer:
        page.get_by_role("button", name="Send invitation").click()
    assert answer.value.status == 401

    # Then the banner says she is signed out and offers to sign in again, back to this page
    banner.wait_for(state="visible")
    assert "signed out" in banner.inner_text()
    sign_in_again = banner.get_by_role("link", name="Sign in again")
    assert sign_in_again.get_attribute("href").endswith("?next=" + url)
    # And what she typed is still there, nothing was sent
    assert page.get_by_label("E-mail").input_value() == "dora@example.com"
    assert not Invitation.objects.filter(home=home).exists()

    sign_in_again.click()
    page.get_by_label("E-mail").fill(alice.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Members").wait_for()
    assert page.url.endswith(url)


def test_an_htmx_form_with_a_stale_form_token_shows_the_out_of_date_banner(
    aws, screen, live_server, home, alice, bob
):
    from accounts.models import Membership, Role

    page = screen
    sign_in(page, alice.email)
    open_members(page, home)
    banner = page.locator("#session-banner")
    bobs = Membership.objects.get(home=home, user=bob)
    row = page.locator(f"#member-{bobs.code}")
    row.get_by_label(f"Role of {bob.email}").select_option(Role.VIEWER)

    # Given alice signs out and in again in another tab: this page's form token is stale
    sign_out_elsewhere(page, sign_in_again_as=alice.email)

    # When she changes bob's role on the first tab
    with page.expect_response(lambda r: r.url.endswith("/role/")) as answer:
        row.get_by_role("button", name="Change role").click()
    assert answer.value.status == 403

    # Then the banner says the page is out of date, with the sign-in link
    banner.wait_for(state="visible")
    assert "out of date" in banner.inner_text()
    assert banner.get_by_role("link", name="Sign in again").is_visible()
    # And bob's role is what it was
    assert Membership.objects.get(pk=bobs.pk).role == Role.MEMBER


def test_an_htmx_form_refused_for_the_role_shows_why_in_place_not_the_sign_in_banner(
    aws, screen, live_server, home, alice, bob
):
    from accounts.models import Membership, Role

    page = screen
    sign_in(page, alice.email)
    open_members(page, home)
    bobs = Membership.objects.get(home=home, user=bob)
    row = page.locator(f"#member-{bobs.code}")
    row.get_by_label(f"Role of {bob.email}").select_option(Role.VIEWER)

    # Given alice is no longer an owner (made a member by another owner meanwhile)
    Membership.objects.filter(home=home, user=alice).update(role=Role.MEMBER)

    # When she changes bob's role on the page she still has open
    with page.expect_response(lambda r: r.url.endswith("/role/")) as answer:
        row.get_by_role("button", name="Change role").click()
    assert answer.value.status == 403

    # Then the page says she cannot do that, and does not ask her to sign in again
    page.get_by_role("heading", name="You cannot do that here").wait_for()
    assert page.locator("#session-banner").is_hidden()
    assert Membership.objects.get(pk=bobs.pk).role == Role.MEMBER


def test_the_setup_page_polling_after_signing_out_elsewhere_shows_the_banner(
    aws, screen, live_server, home, alice
):
    from devices.models import Device

    new = Device.objects.create(home=home, name="New light", thing_name="sl-00000000d0e1")
    page = screen
    sign_in(page, alice.email)
    page.goto(f"/lights/{new.code}/setup/", wait_until="load")
    steps = page.locator("#setup-steps")
    assert "Waiting for the light to come online" in steps.inner_text()
    banner = page.locator("#session-banner")
    # The steps poll (htmx GET, every second) while the light is not online
    with page.expect_response(lambda r: r.url.endswith(f"/lights/{new.code}/setup/steps/")) as poll:
        pass  # the next poll, whenever it comes
    assert poll.value.status == 200
    assert banner.is_hidden()

    # When alice signs out in another tab
    sign_out_elsewhere(page)

    # Then the next poll brings the banner, and the steps stay as they were
    banner.wait_for(state="visible")
    assert "signed out" in banner.inner_text()
    assert "Waiting for the light to come online" in steps.inner_text()
    assert Device.objects.get(pk=new.pk).name == "New light"
