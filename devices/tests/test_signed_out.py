"""A script's request from someone signed out answers 401 (the page shows a banner)."""

from __future__ import annotations


def test_a_signed_out_fetch_of_the_home_screens_feed_gets_401(client, db):
    response = client.get("/api/v1/devices", HTTP_ACCEPT="application/json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_signed_out_fetch_of_a_portal_page_gets_401_not_the_sign_in_page(client, db):
    response = client.get("/", HTTP_ACCEPT="application/json")
    assert response.status_code == 401
    assert response.json()["errors"][0]["field"] == "session"
    assert response.json()["login_url"] == "/accounts/login/"


def test_a_signed_out_htmx_post_gets_401(client, db, light):
    response = client.post(f"/lights/{light.code}/state/", {"on": "true"},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 401


def test_a_signed_out_page_visit_is_still_sent_to_sign_in(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_light_switched_after_signing_out_elsewhere_is_not_switched(client_for, bob, light):
    client = client_for(bob)
    client.logout()
    response = client.post(f"/lights/{light.code}/state/", {"on": "false"},
                           HTTP_ACCEPT="application/json")
    assert response.status_code == 401
    light.refresh_from_db()
    assert light.desired == {"on": True}
