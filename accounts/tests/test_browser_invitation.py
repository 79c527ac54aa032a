"""The portal in a real browser: the demo owner invites someone, who signs up and joins."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.management import call_command

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_demo_owner_invites_a_member_who_signs_up_and_sees_the_home(
    page, browser, live_server, iot_table
):
    from accounts import iot_cookie
    from accounts.models import Membership, User
    from devices.management.commands.seed_demo import DEMO_EMAIL, demo_password

    call_command("seed_demo", quiet=True)

    # Given the demo owner signs in and sees Demo Home
    page.goto("/")
    page.get_by_label("E-mail").fill(DEMO_EMAIL)
    page.get_by_label("Password").fill(demo_password())
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Demo Home", level=1).wait_for()

    # When they invite a member from the Members page
    page.get_by_role("link", name="Members").click()
    page.get_by_label("E-mail").fill("guest@example.com")
    page.get_by_label("Role").select_option("member")
    page.get_by_role("button", name="Send invitation").click()
    page.get_by_text("Invitation sent to guest@example.com").wait_for()
    # htmx swapped the page in place; keyboard focus moved to the news, not lost to <body>.
    page.wait_for_function("document.activeElement.classList.contains('messages')")
    assert page.get_by_text("guest@example.com").count() >= 1

    assert len(mail.outbox) == 1
    link = re.search(r"https?://\S+/invitations/[0-9a-f-]+/", mail.outbox[0].body).group(0)
    assert link.startswith(live_server.url)

    # Then the invitee, in a browser of their own, signs up from the link and accepts
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    guest = context.new_page()
    try:
        guest.goto(link)
        guest.get_by_role("heading", name="Join Demo Home").wait_for()
        guest.get_by_role("link", name="Sign up").click()
        guest.get_by_label("E-mail").fill("guest@example.com")
        guest.get_by_label("Password", exact=True).fill("porch-light-2718")
        guest.get_by_label("Password (again)").fill("porch-light-2718")
        guest.get_by_role("button", name="Sign up").click()
        # The invitation is for guest@example.com only: they confirm the address is theirs
        guest.get_by_role("button", name="Send me a confirmation link").click()
        guest.get_by_text("We sent a confirmation link to guest@example.com").wait_for()
        confirm = re.search(r"https?://\S+/accounts/confirm-email/\S+", mail.outbox[-1].body)
        guest.goto(confirm.group(0))
        guest.get_by_role("button", name="Confirm").click()
        guest.get_by_role("button", name="Accept invitation").click()

        guest.get_by_text("Welcome to Demo Home.").wait_for()
        assert guest.get_by_role("heading", level=1).inner_text() == "Demo Home"
        # Their own home (first sign-in) and Demo Home, switchable from the top bar.
        options = guest.locator("#home-switch option").all_inner_texts()
        assert sorted(options) == ["Demo Home", "guest's home"]
    finally:
        context.close()

    assert Membership.objects.get(user__email="guest@example.com", home__name="Demo Home").role == (
        "member"
    )
    # And the iot_cookie mirror already lists both of the invitee's homes.
    guest_item = iot_cookie.remote_item(User.objects.get(email="guest@example.com").iot_user_id)
    assert sorted(h["name"] for h in guest_item["homes"]) == ["Demo Home", "guest's home"]
