"""Sign-in through Amazon Cognito, tested the way allauth tests its OAuth2 providers: the
authorize redirect is followed by hand and the two HTTP calls allauth makes to Cognito (token
exchange, userInfo) are answered by test doubles in place of `requests.Session.request`.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from allauth.socialaccount.models import SocialAccount

from accounts.models import Membership, User

DOMAIN = "https://smartlight-test.auth.eu-west-1.amazoncognito.com"
SUB = "7d3c9a1e-52f4-4b1c-9e0a-2f6d8b9c1a44"
PROVIDERS = {
    "amazon_cognito": {
        "DOMAIN": DOMAIN,
        "APPS": [{"client_id": "test-client", "secret": "test-secret", "settings": {}}],
    }
}


@pytest.fixture
def cognito(settings, monkeypatch):
    """Cognito enabled in settings, its endpoints answered locally; returns the calls made."""
    settings.SOCIALACCOUNT_PROVIDERS = PROVIDERS
    calls: list[dict] = []
    claims = {
        "sub": SUB,
        "email": "Dana@Example.com",
        "email_verified": "true",
        "given_name": "Dana",
        "family_name": "Moss",
        "username": SUB,
    }

    def fake_request(session, method, url, **kwargs):
        calls.append({"method": method, "url": url, **kwargs})
        if method == "POST" and url == f"{DOMAIN}/oauth2/token":
            body = {
                "access_token": "cognito-access-token",
                "id_token": "x.y.z",
                "refresh_token": "r",
                "token_type": "Bearer",
                "expires_in": 3600,
            }
        elif method == "GET" and url == f"{DOMAIN}/oauth2/userInfo":
            body = claims
        else:
            raise AssertionError(f"unexpected outgoing HTTP call {method} {url}")
        response = requests.Response()
        response.status_code = 200
        response.headers["content-type"] = "application/json;charset=UTF-8"
        response._content = json.dumps(body).encode()
        response.url = url
        return response

    monkeypatch.setattr(requests.Session, "request", fake_request)
    return {"calls": calls, "claims": claims}


def sign_in_with_cognito(client, process: str = "login"):
    start = client.post(f"/accounts/amazon-cognito/login/?process={process}")
    assert start.status_code == 302
    authorize = urlparse(start["Location"])
    assert (
        f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == f"{DOMAIN}/oauth2/authorize"
    )
    query = parse_qs(authorize.query)
    assert query["client_id"] == ["test-client"]
    assert query["redirect_uri"] == ["http://testserver/accounts/amazon-cognito/login/callback/"]
    # Cognito redirects back with a code and the state allauth sent.
    return client.get(
        "/accounts/amazon-cognito/login/callback/",
        {"code": "auth-code-123", "state": query["state"][0]},
    )


def test_a_new_cognito_user_gets_the_sub_the_email_and_a_home(client, db, cognito):
    response = sign_in_with_cognito(client)

    assert response.status_code == 302
    user = User.objects.get(email__iexact="dana@example.com")
    assert user.iot_user_id == SUB
    assert SocialAccount.objects.get(user=user, provider="amazon_cognito").uid == SUB
    assert not user.has_usable_password()
    membership = Membership.objects.get(user=user)
    assert membership.role == "owner"
    assert client.get("/").status_code == 200  # signed in, with a home to show

    token_call, userinfo_call = cognito["calls"]
    assert token_call["data"]["code"] == "auth-code-123"
    assert token_call["data"]["grant_type"] == "authorization_code"
    assert userinfo_call["headers"]["Authorization"] == "Bearer cognito-access-token"


def test_a_returning_cognito_user_keeps_one_home(client, db, cognito):
    sign_in_with_cognito(client)
    client.post("/accounts/logout/")
    sign_in_with_cognito(client)

    user = User.objects.get(iot_user_id=SUB)
    assert User.objects.count() == 1
    assert Membership.objects.filter(user=user).count() == 1
    assert client.session["_auth_user_id"] == str(user.pk)


def test_a_local_user_with_the_same_email_is_not_taken_over(client, db, cognito):
    # allauth's default: an e-mail from the identity provider does not sign anybody in to an
    # existing local account; the person signs in locally and links Cognito instead.
    local = User.objects.create_user("dana@example.com", "local-password-1")
    local_id = local.iot_user_id

    response = sign_in_with_cognito(client)

    assert "_auth_user_id" not in client.session
    assert response.status_code == 302 and response["Location"].endswith(
        "/accounts/3rdparty/signup/"
    )
    local.refresh_from_db()
    assert local.iot_user_id == local_id
    assert not SocialAccount.objects.exists()


def test_a_local_user_who_links_cognito_takes_the_sub(client, db, cognito):
    local = User.objects.create_user("dana@example.com", "local-password-1")
    client.force_login(local, backend="django.contrib.auth.backends.ModelBackend")

    response = sign_in_with_cognito(client, process="connect")

    assert response.status_code == 302
    assert SocialAccount.objects.get(provider="amazon_cognito").user == local
    local.refresh_from_db()
    assert local.iot_user_id == SUB

    # From now on a Cognito sign-in is the same person.
    client.post("/accounts/logout/")
    sign_in_with_cognito(client)
    assert client.session["_auth_user_id"] == str(local.pk)
    assert User.objects.count() == 1


def test_the_sign_in_page_offers_cognito_when_enabled(client, db, cognito):
    response = client.get("/accounts/login/")
    assert b"Continue with Amazon Cognito" in response.content
    assert b'action="/accounts/amazon-cognito/login/?process=login"' in response.content


def test_the_sign_in_page_has_no_cognito_button_when_disabled(client, db, settings):
    settings.SOCIALACCOUNT_PROVIDERS = {}
    response = client.get("/accounts/login/")
    assert b"Amazon Cognito" not in response.content


@pytest.mark.parametrize(
    "path",
    ["/accounts/amazon-cognito/login/", "/accounts/amazon-cognito/login/callback/?code=x&state=y"],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_cognito_urls_are_404_when_cognito_is_not_configured(client, db, settings, path, method):
    settings.SOCIALACCOUNT_PROVIDERS = {}
    assert getattr(client, method)(path).status_code == 404
