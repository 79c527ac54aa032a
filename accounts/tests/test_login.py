from accounts.models import Home, Membership

PASSWORD = "correct-horse-battery"  # the root conftest fixtures' password


def test_the_sign_in_page_is_styled_in_the_portal_shell(client, db):
    response = client.get("/accounts/login/")
    content = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Sign in</h1>" in content
    assert 'class="auth-page"' in content
    assert 'for="id_login"' in content  # every input has a visible label


def test_signing_in_keeps_existing_homes(client, alice, home):
    response = client.post("/accounts/login/", {"login": "alice@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert Membership.objects.filter(user=alice).count() == 1


def test_a_user_without_a_home_gets_one_at_sign_in(client, charlie):
    assert not Membership.objects.filter(user=charlie).exists()
    client.post("/accounts/login/", {"login": "charlie@example.com", "password": PASSWORD})
    home = Home.objects.get(memberships__user=charlie)
    assert home.name == "charlie's home"


def test_a_wrong_password_is_refused(client, alice, home):
    response = client.post("/accounts/login/", {"login": "alice@example.com", "password": "nope"})
    assert response.status_code == 200
    assert b"not correct" in response.content
    assert "_auth_user_id" not in client.session
