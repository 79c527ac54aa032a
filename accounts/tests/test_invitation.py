from datetime import timedelta

from django.utils import timezone

from accounts.models import Invitation, Membership, User


def url(invitation):
    return f"/invitations/{invitation.code}/"


def make_invitation(home, inviter, **kwargs):
    defaults = {"email": "new@example.com", "role": "member"}
    return Invitation.objects.create(home=home, invited_by=inviter, **{**defaults, **kwargs})


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


def test_any_account_may_accept_whatever_the_invited_address(client_for, alice, home):
    other = User.objects.create_user("someone-else@example.com", "x")
    invitation = make_invitation(home, alice, email="new@example.com")
    assert client_for(other).post(url(invitation)).status_code == 302
    assert Membership.objects.filter(user=other, home=home).exists()


def test_a_link_works_only_once(client_for, alice, charlie, home, unchanged):
    invitation = make_invitation(home, alice)
    client_for(charlie).post(url(invitation))
    someone = User.objects.create_user("late@example.com", "x")
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
    invitation = make_invitation(home, alice)
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
