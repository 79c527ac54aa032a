"""API authentication through real CSRF enforcement: a test client that enforces CSRF checks,
and a live server spoken to with plain HTTP."""

from __future__ import annotations

import json

import pytest
import requests
from django.test import Client

from accounts.models import ApiToken
from devices.models import Room

ROOMS = "/api/v1/rooms"


@pytest.fixture
def strict():
    """A test client that enforces CSRF exactly as a browser-facing server does."""
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def bobs_token(bob):
    _, raw = ApiToken.issue(bob, "script")
    return raw


def _post(client, path, body, **headers):
    return client.post(path, json.dumps(body), content_type="application/json", headers=headers)


def test_a_bearer_token_alone_writes_with_every_method(strict, home, bobs_token):
    auth = {"Authorization": f"Bearer {bobs_token}"}

    created = _post(strict, ROOMS, {"name": "Hall", "home": str(home.code)}, **auth)
    assert created.status_code == 201, created.content
    code = created.json()["code"]
    renamed = strict.patch(
        f"{ROOMS}/{code}", json.dumps({"name": "Hallway"}), content_type="application/json",
        headers=auth,
    )
    assert renamed.status_code == 200
    assert Room.objects.get(code=code).name == "Hallway"
    assert strict.delete(f"{ROOMS}/{code}", headers=auth).status_code == 204
    assert not Room.objects.filter(code=code).exists()


def test_a_session_write_without_the_csrf_token_is_refused(strict, bob, home):
    strict.force_login(bob, backend="django.contrib.auth.backends.ModelBackend")
    response = _post(strict, ROOMS, {"name": "Hall", "home": str(home.code)})
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    # Marked as a stale page, not a refusal of the role: the page offers to sign in again
    assert response["X-Session-Stale"] == "1"
    assert not Room.objects.filter(name="Hall").exists()


def test_a_session_write_with_the_csrf_token_succeeds(strict, bob, home):
    strict.force_login(bob, backend="django.contrib.auth.backends.ModelBackend")
    strict.get("/")  # the portal page sets the CSRF cookie
    token = strict.cookies["csrftoken"].value
    response = _post(strict, ROOMS, {"name": "Hall", "home": str(home.code)}, X_CSRFToken=token)
    assert response.status_code == 201


def test_an_anonymous_write_is_401_with_a_bearer_challenge(strict, home):
    response = _post(strict, ROOMS, {"name": "Hall", "home": str(home.code)})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert not Room.objects.exists()


def test_an_unknown_token_is_401(strict, home):
    response = strict.get(ROOMS, headers={"Authorization": "Bearer sl_not-a-token"})
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers


def test_a_revoked_users_token_is_401(strict, bob, bobs_token, home):
    bob.is_active = False
    bob.save(update_fields=["is_active"])
    response = strict.get(ROOMS, headers={"Authorization": f"Bearer {bobs_token}"})
    assert response.status_code == 401


# --- a live server, plain HTTP --------------------------------------------------------------
def test_through_a_live_server_bearer_writes_and_anonymous_is_401(live_server, bob, home):
    _, raw = ApiToken.issue(bob, "live")
    url = f"{live_server.url}{ROOMS}"
    body = {"name": "Attic", "home": str(home.code)}

    created = requests.post(url, json=body, headers={"Authorization": f"Bearer {raw}"},
                            timeout=10)
    assert created.status_code == 201, created.text
    assert Room.objects.filter(home=home, name="Attic").exists()

    anonymous = requests.post(url, json={"name": "Cellar", "home": str(home.code)}, timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert not Room.objects.filter(name="Cellar").exists()


def test_through_a_live_server_a_session_write_needs_the_csrf_token(live_server, client, bob,
                                                                     home):
    client.force_login(bob, backend="django.contrib.auth.backends.ModelBackend")
    http = requests.Session()
    http.cookies.set("sessionid", client.cookies["sessionid"].value)
    url = f"{live_server.url}{ROOMS}"

    refused = http.post(url, json={"name": "Cellar", "home": str(home.code)}, timeout=10)
    assert refused.status_code == 403
    assert not Room.objects.filter(name="Cellar").exists()

    http.get(f"{live_server.url}/", timeout=10)  # sets the CSRF cookie, as a browser would
    token = http.cookies["csrftoken"]
    accepted = http.post(url, json={"name": "Cellar", "home": str(home.code)},
                         headers={"X-CSRFToken": token, "Referer": live_server.url + "/"},
                         timeout=10)
    assert accepted.status_code == 201, accepted.text


def test_a_portal_form_with_a_stale_token_says_the_page_is_out_of_date(strict, bob, home):
    strict.force_login(bob, backend="django.contrib.auth.backends.ModelBackend")
    response = strict.post("/rooms/", {"name": "Hall", "csrfmiddlewaretoken": "x" * 64})
    assert response.status_code == 403
    assert response["X-Session-Stale"] == "1"
    assert "This page is out of date" in response.content.decode()
    assert not home.rooms.filter(name="Hall").exists()


def test_a_refusal_of_the_role_is_not_marked_as_a_stale_page(client, vera, home):
    client.force_login(vera, backend="django.contrib.auth.backends.ModelBackend")
    response = client.post("/rooms/", {"name": "Hall"})
    assert response.status_code == 403
    assert "X-Session-Stale" not in response
