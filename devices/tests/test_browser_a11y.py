"""Every portal page under axe-core (pinned in package.json): no serious or critical
violations, on a phone in the dark theme and on a desktop in the light one."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SCREENS = {
    "phone-dark": {"viewport": {"width": 390, "height": 844}, "color_scheme": "dark",
                   "has_touch": True},
    "desktop-light": {"viewport": {"width": 1280, "height": 900}, "color_scheme": "light"},
}


def serious_violations(page) -> list[str]:
    # The page's Content-Security-Policy allows only its own scripts: the context bypasses it
    # for this one injected script, as a browser extension would.
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"] if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture(params=list(SCREENS))
def screen(request, browser, live_server):
    if not AXE.exists():
        pytest.fail("axe-core is missing: npm ci")
    context = browser.new_context(base_url=live_server.url, bypass_csp=True,
                                  **SCREENS[request.param])
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def test_every_page_has_no_serious_accessibility_violation(screen, alice, home):
    from devices.models import Device, Room, Scene
    from schedules.models import Schedule  # noqa: F401 (the schedules app is installed)

    room = Room.objects.create(home=home, name="Living room")
    light = Device.objects.create(
        home=home, room=room, name="Sofa strip", thing_name="sl-0000000a11f0", connected=True,
        reported={"on": True, "brightness": 200, "color": "#ff8800", "effect": "solid",
                  "effects": ["solid", "rainbow", "breathe"]})
    Device.objects.create(home=home, name="Porch", thing_name="sl-0000000a11f1",
                          reported={"on": False})
    scene = Scene.objects.create(home=home, name="Evening",
                                 states={light.thing_name: {"on": True}})
    page = screen
    found: dict[str, list[str]] = {}

    for path in ("/accounts/login/", "/accounts/signup/"):
        page.goto(path)
        found[path] = serious_violations(page)
    page.goto("/accounts/login/")
    page.get_by_label("E-mail").fill(alice.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#lights[data-live=on]").wait_for(state="attached")
    found["/"] = serious_violations(page)
    page.get_by_role("button", name="Adjust Sofa strip").click()
    page.locator("#sheet").get_by_role("heading", name="Sofa strip").wait_for()
    found["/ (detail sheet)"] = serious_violations(page)

    for path in ("/schedules/", "/schedules/new/", f"/homes/{home.code}/settings/",
                 f"/homes/{home.code}/members/", "/tokens/", f"/lights/{light.code}/",
                 f"/rooms/{room.code}/", f"/scenes/{scene.code}/", "/scenes/", "/lights/add/",
                 "/homes/new/", "/accounts/email/"):
        response = page.goto(path)
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
        found[path] = serious_violations(page)

    # The page a form with a stale token (signed in again elsewhere) comes back to
    with page.expect_navigation():
        page.evaluate("""() => {
            const form = Object.assign(document.createElement("form"),
                                       {method: "post", action: "/rooms/"});
            form.append(Object.assign(document.createElement("input"),
                                      {name: "csrfmiddlewaretoken", value: "x".repeat(64)}));
            document.body.append(form);
            form.submit();
        }""")
    page.get_by_role("heading", name="This page is out of date").wait_for()
    found["403 (stale form token)"] = serious_violations(page)

    assert {path: v for path, v in found.items() if v} == {}
