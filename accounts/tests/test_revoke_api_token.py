from accounts.api_auth import ApiTokenAuth
from accounts.models import ApiToken


def url(token):
    return f"/tokens/{token.code}/revoke/"


def test_it_revokes_a_token_so_it_stops_working(client_for, alice, home, rf):
    token, raw = ApiToken.issue(alice, "old")
    assert client_for(alice).post(url(token)).status_code == 302
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    request = rf.get("/api/v1/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert ApiTokenAuth()(request) is None


def test_it_hides_other_users_tokens(client_for, charlie, alice, home, unchanged):
    token, _ = ApiToken.issue(alice, "alices")
    with unchanged():
        assert client_for(charlie).post(url(token)).status_code == 404


def test_a_home_owner_cannot_revoke_a_members_token(client_for, alice, bob, home, unchanged):
    token, _ = ApiToken.issue(bob, "bobs")
    with unchanged():
        assert client_for(alice).post(url(token)).status_code == 404


def test_it_needs_post(client_for, alice, home, unchanged):
    token, _ = ApiToken.issue(alice, "old")
    with unchanged():
        assert client_for(alice).get(url(token)).status_code == 405
