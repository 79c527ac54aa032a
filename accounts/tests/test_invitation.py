import re
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.utils import timezone

from accounts.models import Invitation, Membership, User


def url(invitation):
    return f"/invitations/{invitation.code}/"


def make_invitation(home, inviter, **kwargs):
    defaults = {"email": "charlie@example.com", "role": "member"}
    return Invitation.objects.create(home=home, invited_by=inviter, **{**defaults, **kwargs})


def confirmed(user, email=None):
    EmailAddress.objects.create(user=user, email=email or user.email, primary=True,
                                verified=True)
    return user


@pytest.fixture
def charlie(charlie):
    """charlie, invited below, has confirmed his address."""
    return confirmed(charlie)


def test_it_shows_the_invitation_to_anyone_with_the_link(client, alice, home):
    invitation = make_invitation(home, alice)
    response = client.get(url(invitation))
    assert response.status_code == 200
    assert b"Join Alice&#x27;s Home" in response.content
    assert f"/accounts/signup/?next=/invitations/{invitation.code}/".encode() in response.content


def test_accepting_creates_the_membership_with_the_invited_role(client_for, alice, charlie, home):
    invitation = make_invitation(home, alice, role="viewer")
    client = client_for(charlie)
    response = client.post(url(invitation))
    assert response.status_code == 302
    assert Membership.objects.get(user=charlie, home=home).role == "viewer"
    invitation.refresh_from_db()
    assert invitation.accepted is not None and invitation.accepted_by == charlie
    # The accepted home becomes the current one.
    assert client.session["home_code"] == str(home.code)


def test_another_account_holding_the_link_cannot_accept(client_for, alice, home, unchanged):
    other = confirmed(User.objects.create_user("someone-else@example.com", "x"))
    invitation = make_invitation(home, alice)
    client = client_for(other)
    page = client.get(url(invitation))
    assert b"This invitation is for charlie@example.com" in page.content
    with unchanged():
        response = client.post(url(invitation))
    assert response.status_code == 409
    assert b"Sign in with charlie@example.com" in response.content


def test_an_unconfirmed_address_is_confirmed_from_the_page_then_accepted(client_for, alice,
                                                                        home):
    newcomer = User.objects.create_user("new@example.com", "x")
    invitation = make_invitation(home, alice, email="new@example.com")
    client = client_for(newcomer)

    # Given the address is the newcomer's but not confirmed: accepting is refused
    refused = client.post(url(invitation))
    assert refused.status_code == 409
    assert b"Confirm that new@example.com is yours" in refused.content
    assert not Membership.objects.filter(user=newcomer, home=home).exists()

    # When they ask for the confirmation link and open it
    assert client.post(url(invitation), {"action": "confirm-address"}).status_code == 302
    assert mail.outbox[-1].to == ["new@example.com"]
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+", mail.outbox[-1].body).group(0)
    confirm_path = "/" + link.split("/", 3)[3]
    back = client.post(confirm_path)

    # Then they are back on the invitation and may accept
    assert back.status_code == 302 and back["Location"] == url(invitation)
    assert EmailAddress.objects.get(user=newcomer).verified
    assert client.post(url(invitation)).status_code == 302
    assert Membership.objects.filter(user=newcomer, home=home).exists()


def test_a_link_works_only_once(client_for, alice, charlie, home, unchanged):
    invitation = make_invitation(home, alice)
    client_for(charlie).post(url(invitation))
    someone = confirmed(User.objects.create_user("late@example.com", "x"))
    with unchanged():
        response = client_for(someone).post(url(invitation))
    assert response.status_code == 409
    assert b"already used" in response.content


def test_an_expired_link_is_refused(client_for, alice, charlie, home, unchanged):
    invitation = make_invitation(home, alice, created=timezone.now() - timedelta(days=7, seconds=1))
    client = client_for(charlie)
    with unchanged():
        assert client.get(url(invitation)).status_code == 410
        response = client.post(url(invitation))
    assert response.status_code == 409
    assert b"expired" in response.content


def test_a_link_is_still_good_just_before_seven_days(client_for, alice, charlie, home):
    invitation = make_invitation(home, alice, created=timezone.now() - timedelta(days=6, hours=23))
    assert client_for(charlie).post(url(invitation)).status_code == 302


def test_an_existing_member_cannot_accept(client_for, alice, bob, home, unchanged):
    invitation = make_invitation(home, alice, email="bob@example.com")
    with unchanged():
        response = client_for(bob).post(url(invitation))
    assert response.status_code == 409
    assert b"already a member" in response.content


def test_accepting_needs_an_account(client, alice, home, unchanged):
    invitation = make_invitation(home, alice)
    with unchanged():
        response = client.post(url(invitation))
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/invitations/{invitation.code}/"


def test_an_unknown_link_is_404(client_for, charlie):
    response = client_for(charlie).get("/invitations/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404
