"""The portal under its Content-Security-Policy in a real browser: nothing is blocked."""

from __future__ import annotations

import pytest

from conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WATCH = """
window.__blocked = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__blocked.push(e.violatedDirective + ' ' + e.blockedURI));
"""


def test_the_portal_pages_run_without_a_policy_violation(page, alice, home):
    page.add_init_script(WATCH)
    page.goto("/accounts/login/")
    page.get_by_label("E-mail").fill(alice.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name=home.name, level=1).wait_for()
    page.wait_for_load_state("load")  # the heading shows before deferred scripts have run
    assert page.evaluate("window.__blocked") == []
    assert page.evaluate("typeof htmx") == "object"

    for path in ("/schedules/", "/schedules/new/", f"/homes/{home.code}/settings/"):
        response = page.goto(path)
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__blocked") == [], path
