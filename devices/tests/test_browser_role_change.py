"""What the page was drawn with changes elsewhere, and an open dashboard follows without the
person reloading: a role changed by the owner, a light added by someone else. On a phone
(390×844) and a desktop."""

from __future__ import annotations

import pytest

from devices.tests.test_browser import close_sheet, open_sheet, sign_in, wait_ready
from devices.tests.test_browser_live import screen

pytestmark = [pytest.mark.browser, pytest.mark.integration]
__all__ = ["screen"]  # the fixture, imported for these tests


def _light(home, name: str, thing: str):
    from devices.models import Device

    return Device.objects.create(home=home, name=name, thing_name=thing, connected=True,
                                 reported={"on": True, "color": "#ff0000", "brightness": 255})


def test_a_member_made_a_viewer_sees_the_controls_disabled_without_reloading(
    screen, live_server, home, alice, bob
):
    from accounts.actions import do_change_role
    from accounts.models import Membership

    light = _light(home, "Hall strip", "sl-00000000c0a1")
    page = screen
    sign_in(page, bob.email)
    toggle = page.locator(f"#light-{light.code} [data-control=on]")
    assert toggle.is_enabled()
    assert page.get_by_role("link", name="Add a light").is_visible()
    # The sheet is open while the role changes: the page waits until it is closed
    open_sheet(page, "Hall strip")

    # When alice makes bob a viewer of the home
    do_change_role(Membership.objects.get(home=home, user=bob), "viewer")

    # Then, once he closes the sheet, his open page says so and its controls are disabled
    page.wait_for_timeout(2_500)  # two polls: the page must not redraw under the open sheet
    assert page.locator("#sheet").is_visible()
    close_sheet(page)
    page.get_by_text("you can see these lights but not change them").wait_for()
    wait_ready(page)
    assert page.locator(f"#light-{light.code} [data-control=on]").is_disabled()
    assert page.get_by_role("link", name="Add a light").count() == 0

    # And made a member again, the controls come back
    do_change_role(Membership.objects.get(home=home, user=bob), "member")
    page.get_by_role("link", name="Add a light").wait_for()
    wait_ready(page)
    assert page.locator(f"#light-{light.code} [data-control=on]").is_enabled()


def test_a_light_added_elsewhere_appears_on_an_open_dashboard(screen, live_server, home, alice):
    _light(home, "Hall strip", "sl-00000000c0a2")
    page = screen
    sign_in(page, alice.email)
    assert page.locator(".tile").count() == 1

    added = _light(home, "Desk lamp", "sl-00000000c0a3")

    page.locator(f"#light-{added.code}").wait_for()
    wait_ready(page)
    assert page.locator(".tile").count() == 2
    assert page.locator(f"#light-{added.code} [data-role=shown]").inner_text() == (
        "shows on · 100 % · Red")
