import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Invitation


def url(home):
    return f"/homes/{home.code}/members/invite/"


def test_it_invites_by_email_with_an_absolute_single_use_link(
    client_for, alice, home, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(alice).post(url(home), {"email": "New@Example.com", "role": "viewer"})
    assert response.status_code == 302
    invitation = Invitation.objects.get(home=home)
    assert (invitation.email, invitation.role, invitation.invited_by) == (
        "new@example.com",
        "viewer",
        alice,
    )
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new@example.com"]
    assert "Alice's Home" in message.subject
    link = re.search(r"https?://\S+", message.body).group(0)
    assert link == f"http://testserver/invitations/{invitation.code}/"


def test_it_sends_the_mail_only_once_the_change_commits(client_for, alice, home):
    # The test transaction never commits, so the on-commit mail must not have gone out.
    client_for(alice).post(url(home), {"email": "new@example.com", "role": "member"})
    assert mail.outbox == []


def test_it_refuses_a_duplicate_open_invitation(client_for, alice, home, unchanged):
    Invitation.objects.create(home=home, email="new@example.com", invited_by=alice)
    with unchanged():
        response = client_for(alice).post(url(home), {"email": "new@example.com", "role": "member"})
    assert response.status_code == 400
    assert b"already has an open invitation" in response.content
    assert mail.outbox == []


def test_it_replaces_an_expired_invitation(client_for, alice, home):
    old = Invitation.objects.create(
        home=home,
        email="new@example.com",
        invited_by=alice,
        created=timezone.now() - timedelta(days=8),
    )
    response = client_for(alice).post(url(home), {"email": "new@example.com", "role": "member"})
    assert response.status_code == 302
    assert not Invitation.objects.filter(pk=old.pk).exists()
    assert Invitation.objects.filter(home=home, email="new@example.com").count() == 1


def test_it_refuses_an_email_that_is_already_a_member(client_for, alice, home, unchanged):
    with unchanged():
        response = client_for(alice).post(url(home), {"email": "BOB@example.com", "role": "member"})
    assert response.status_code == 400
    assert b"bob@example.com is already a member" in response.content


def test_it_refuses_an_unknown_role(client_for, alice, home, unchanged):
    with unchanged():
        response = client_for(alice).post(url(home), {"email": "new@example.com", "role": "admin"})
    assert response.status_code == 400
    assert b"Unknown role admin" in response.content


def test_it_refuses_a_bad_email(client_for, alice, home, unchanged):
    with unchanged():
        response = client_for(alice).post(url(home), {"email": "not-an-email", "role": "member"})
    assert response.status_code == 400
    assert b"valid email" in response.content


def test_it_hides_other_homes(client_for, charlie, home, unchanged):
    with unchanged():
        response = client_for(charlie).post(
            url(home), {"email": "new@example.com", "role": "member"}
        )
    assert response.status_code == 404


def test_members_and_viewers_cannot_invite(client_for, bob, vera, home, unchanged):
    for user in (bob, vera):
        with unchanged():
            response = client_for(user).post(
                url(home), {"email": "new@example.com", "role": "member"}
            )
        assert response.status_code == 403
    assert mail.outbox == []


def test_it_swaps_the_page_for_htmx(client_for, alice, home):
    response = client_for(alice).post(
        url(home), {"email": "bob@example.com", "role": "member"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    assert b'id="main"' in response.content


def test_a_home_name_with_line_breaks_still_gives_a_one_line_subject(
    client_for, alice, home, django_capture_on_commit_callbacks
):
    # A name saved before names were checked (the forms refuse line breaks now).
    Invitation.objects.all().delete()
    type(home).objects.filter(pk=home.pk).update(name="Alice\r\nBcc: victim@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(alice).post(url(home), {"email": "new@example.com", "role": "member"})
    assert response.status_code == 302
    (message,) = mail.outbox
    assert message.subject == "You are invited to Alice Bcc: victim@example.com on Smart Light"
    assert message.recipients() == ["new@example.com"]
    assert "\n" not in message.message()["Subject"]


@pytest.mark.django_db(transaction=True)
def test_a_mail_that_cannot_be_sent_leaves_no_invitation(client_for, alice, home, monkeypatch):
    import smtplib

    def refuse(self, *args, **kwargs):
        raise smtplib.SMTPServerDisconnected("connection unexpectedly closed")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", refuse)
    response = client_for(alice).post(url(home), {"email": "new@example.com", "role": "member"})
    assert response.status_code == 400
    assert b"could not be sent, so no invitation was made" in response.content
    assert not Invitation.objects.filter(home=home).exists()


def test_a_home_name_with_control_characters_is_refused(client_for, alice, home, unchanged):
    with unchanged():
        response = client_for(alice).post(
            f"/homes/{home.code}/settings/",
            {"name": "Alice\r\nBcc: x@example.com", "timezone": "UTC"},
        )
    assert response.status_code == 400
    assert b"must not contain control characters" in response.content
