"""The schedule form in a real browser (Debian's chromium): fields follow the chosen trigger,
the htmx preview describes the schedule and its next five runs before it is saved."""

from __future__ import annotations

import pytest

from schedules.models import Schedule

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-battery"


def sign_in(page, email: str) -> None:
    page.goto("/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_member_previews_and_saves_a_weekday_wake_up(
    aws, page, transactional_db, home, bob, lamp
):
    # (`aws`: the mirror push after saving goes to moto, never to the network.)
    sign_in(page, bob.email)
    page.goto("/schedules/new/")
    page.get_by_label("Name").fill("Wake up")
    page.get_by_label("Run time").fill("07:00")
    for day in ("Mon", "Tue", "Wed", "Thu", "Fri"):
        page.get_by_label(day, exact=True).check()
    preview = page.locator("#preview")
    preview.get_by_text("Weekdays at 07:00, Europe/Berlin").wait_for()
    assert preview.locator("li").count() == 5

    # A cron trigger, behind the Advanced switch, hides the weekly fields and explains a bad
    # expression.
    assert not page.get_by_label("Cron expression", exact=True).is_visible()
    page.get_by_label("Advanced (cron)").check()
    page.get_by_label("Cron expression", exact=True).check()
    assert not page.get_by_label("Run time").is_visible()
    page.locator("#id_cron").fill("61 * * * *")
    preview.get_by_text("is not a valid cron expression").wait_for()

    page.get_by_label("Weekly").check()
    page.get_by_label("Bed lamp").check()
    page.get_by_label("Power").select_option("on")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Schedule “Wake up” saved.").wait_for()
    assert page.locator(".description").first.inner_text() == "Weekdays at 07:00, Europe/Berlin"
    assert Schedule.objects.get().desired == {"on": True}
