import uuid

from accounts.models import Membership, User


def test_the_sign_up_page_is_styled_in_the_portal_shell(client, db):
    response = client.get("/accounts/signup/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "Create your account" in content
    assert 'class="auth-page"' in content
    assert "css/app.css" in content


def test_signing_up_creates_the_users_own_home(client, db):
    response = client.post(
        "/accounts/signup/",
        {"email": "erin@example.com", "password1": "lamp-post-42x", "password2": "lamp-post-42x"},
    )
    assert response.status_code == 302
    user = User.objects.get(email="erin@example.com")
    uuid.UUID(user.iot_user_id)  # a local user's iot id is a UUID
    membership = Membership.objects.get(user=user)
    assert (membership.role, membership.home.name) == ("owner", "erin's home")
    assert b"erin&#x27;s home" in client.get("/").content


def test_signing_up_through_an_invitation_returns_to_it(client, alice, home):
    from accounts.models import Invitation

    invitation = Invitation.objects.create(home=home, email="erin@example.com", invited_by=alice)
    next_url = f"/invitations/{invitation.code}/"
    response = client.post(
        f"/accounts/signup/?next={next_url}",
        {
            "email": "erin@example.com",
            "password1": "lamp-post-42x",
            "password2": "lamp-post-42x",
            "next": next_url,
        },
    )
    assert response["Location"] == next_url


def test_it_rejects_mismatched_passwords(client, db):
    response = client.post(
        "/accounts/signup/",
        {"email": "erin@example.com", "password1": "lamp-post-42x", "password2": "other-9876"},
    )
    assert response.status_code == 200
    assert b"same password" in response.content
    assert not User.objects.filter(email="erin@example.com").exists()


def test_an_invited_person_signing_up_gets_no_empty_home_of_their_own(client, alice, home):
    from accounts.models import Invitation

    Invitation.objects.create(home=home, email="Erin@example.com", invited_by=alice)
    client.post("/accounts/signup/", {"email": "erin@example.com", "password1": "lamp-post-42x",
                                      "password2": "lamp-post-42x"})
    user = User.objects.get(email="erin@example.com")
    assert not Membership.objects.filter(user=user).exists()


def test_a_person_whose_invitation_expired_gets_their_own_home(client, alice, home):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import Invitation

    Invitation.objects.create(home=home, email="erin@example.com", invited_by=alice,
                              created=timezone.now() - timedelta(days=8))
    client.post("/accounts/signup/", {"email": "erin@example.com", "password1": "lamp-post-42x",
                                      "password2": "lamp-post-42x"})
    membership = Membership.objects.get(user__email="erin@example.com")
    assert membership.home.name == "erin's home"
