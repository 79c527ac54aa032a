"""Claiming a light with its code: POST /api/v1/claims and "Add a light" in the portal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from devices import claims
from devices.models import Device, Serial
from devices.tests.conftest import cookie_things

CODE = "ABCDE-FGHJK"


@pytest.fixture
def made(iot):
    """A fleet light the platform made, not yet claimed (its code is CODE)."""
    return Serial.objects.create(
        serial="0123456789ab", method="fleet", code_hash=claims.code_hash(CODE),
        code_expires=timezone.now() + timedelta(days=30),
    )


def provisioned(iot, thing: str) -> str:
    """What fleet provisioning leaves in AWS when the light first boots: its thing with an
    active certificate that has the device policy. Returns the certificate id."""
    iot.create_thing(thingName=thing, thingTypeName="smartlight",
                     attributePayload={"attributes": {"serial": thing[3:]}})
    cert = iot.create_keys_and_certificate(setAsActive=True)
    iot.attach_policy(policyName="smartlight-device", target=cert["certificateArn"])
    iot.attach_thing_principal(thingName=thing, principal=cert["certificateArn"])
    return cert["certificateId"]


def claim(client, code=CODE, **body):
    return client.post("/api/v1/claims", {"code": code, **body}, content_type="application/json")


def errors(response):
    return {tuple(e["loc"])[-1]: e["msg"] for e in response.json()["detail"]}


# --- API ------------------------------------------------------------------------------------
def test_a_member_claims_a_light_into_the_home(client_for, bob, home, made, iot,
                                               django_capture_on_commit_callbacks):
    room = home.rooms.create(name="Office")
    with django_capture_on_commit_callbacks(execute=True):
        response = claim(client_for(bob), name="Desk strip", room=str(room.code))
    assert response.status_code == 201
    body = response.json()
    assert body["thing_name"] == "sl-0123456789ab"
    assert body["name"] == "Desk strip" and body["room"] == str(room.code)
    device = Device.objects.get(code=body["code"])
    assert device.home == home and device.provisioning == "fleet"
    made.refresh_from_db()
    assert made.device == device and made.claimed is not None
    alice, vera = home.memberships.get(role="owner").user, home.memberships.get(role="viewer").user
    assert cookie_things(alice) == cookie_things(bob) == ["sl-0123456789ab"]
    assert cookie_things(vera) == []


def test_claiming_a_light_that_already_provisioned_records_its_certificate_and_home(
        client_for, alice, home, made, iot, django_capture_on_commit_callbacks):
    certificate_id = provisioned(iot, "sl-0123456789ab")
    with django_capture_on_commit_callbacks(execute=True):
        response = claim(client_for(alice))
    device = Device.objects.get(code=response.json()["code"])
    assert device.certificate_id == certificate_id
    attributes = iot.describe_thing(thingName="sl-0123456789ab")["attributes"]
    assert attributes == {"serial": "0123456789ab", "home": str(home.code)}


def test_codes_are_read_the_way_people_type_them(client_for, alice, home, made, iot):
    assert claim(client_for(alice), code=" abcde fghjk ").status_code == 201


@pytest.mark.parametrize("case", ["wrong", "used", "expired", "malformed"])
def test_wrong_used_and_expired_codes_get_one_message_and_change_nothing(
        client_for, alice, bob, home, made, iot, case):
    code = CODE
    if case == "wrong":
        code = "ABCDE-FGHJ0"
    elif case == "used":
        assert claim(client_for(bob)).status_code == 201
    elif case == "expired":
        Serial.objects.filter(pk=made.pk).update(code_expires=timezone.now())
    else:
        code = "not a code!"
    before = (Device.objects.count(), list(Serial.objects.values_list("device", "claimed")))
    response = claim(client_for(alice), code=code)
    assert response.status_code == 422
    assert errors(response) == {"code": (
        "This code is not valid. Check it against the label on the light; a code works once, "
        "and not after it expires.")}
    assert (Device.objects.count(), list(Serial.objects.values_list("device", "claimed"))) == (
        before)


def test_the_eleventh_guess_in_a_window_is_refused_even_with_the_right_code(
        client_for, alice, home, made, iot):
    client = client_for(alice)
    for _ in range(10):
        assert claim(client, code="ZZZZZ-ZZZZZ").status_code == 422
    response = claim(client, code=CODE)
    assert response.status_code == 429
    assert not Device.objects.exists()


def test_guesses_count_per_address_across_people(client_for, alice, bob, home, made, iot):
    for _ in range(10):
        assert claim(client_for(alice), code="ZZZZZ-ZZZZZ").status_code == 422
    # Another person from the same address has no fresh allowance.
    assert claim(client_for(bob), code=CODE).status_code == 429


def test_guesses_count_per_person_across_addresses(alice, home, made, iot):
    client = Client()
    client.force_login(alice, backend="django.contrib.auth.backends.ModelBackend")
    for n in range(10):
        client.post("/api/v1/claims", {"code": "ZZZZZ-ZZZZZ"}, content_type="application/json",
                    REMOTE_ADDR=f"198.51.100.{n}")
    response = client.post("/api/v1/claims", {"code": CODE}, content_type="application/json",
                           REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 429


def test_the_window_ends(client_for, alice, home, made, iot, monkeypatch, settings):
    import time

    from accounts import ratelimit

    client = client_for(alice)
    for _ in range(10):
        claim(client, code="ZZZZZ-ZZZZZ")
    assert claim(client).status_code == 429
    # A quarter of an hour later (the counters' clock moves on; nothing else needs to)
    later = time.time() + settings.CLAIM_GUESS_WINDOW_S

    class Later:
        @staticmethod
        def time() -> float:
            return later

    monkeypatch.setattr(ratelimit, "time", Later)
    assert claim(client).status_code == 201


def test_wrong_guesses_racing_each_other_are_each_counted(transactional_db, settings):
    """Each thread has its own database connection, as each web worker has: no guess is lost
    to a read-then-write race, so parallel guessing gets no more tries than serial."""
    from django.db import connection

    from conftest import in_threads

    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("in-memory SQLite's shared cache does not model separate worker processes")
    settings.CLAIM_GUESSES_PER_WINDOW = 12

    def guesser() -> None:
        try:
            for _ in range(3):
                claims.count_wrong_guess(7, "198.51.100.9")
        finally:
            connection.close()

    in_threads(guesser, 4)
    assert claims.too_many_guesses(7, "203.0.113.1")  # the person: 12 of 12
    assert claims.too_many_guesses(None, "198.51.100.9")  # the address: 12 of 12
    settings.CLAIM_GUESSES_PER_WINDOW = 13
    assert not claims.too_many_guesses(7, "198.51.100.9")  # exactly 12 were counted


def test_viewers_get_403_and_outsiders_404(client_for, vera, charlie, home, made, iot):
    assert claim(client_for(vera)).status_code == 403
    assert claim(client_for(charlie), home=str(home.code)).status_code == 404
    assert not Device.objects.exists()


def test_a_room_of_another_home_is_refused(client_for, alice, home, charlies_home, made, iot):
    room = charlies_home.rooms.create(name="Garage")
    response = claim(client_for(alice), room=str(room.code))
    assert response.status_code == 422
    assert errors(response) == {"room": "is not a room of this home"}
    assert not Device.objects.exists()


# --- portal ---------------------------------------------------------------------------------
def test_the_qr_link_opens_the_add_page_with_the_code(client_for, alice, home, made):
    response = client_for(alice).get(f"/claim/{CODE}")
    assert response.status_code == 200
    assert f'value="{CODE}"' in response.content.decode()
    assert "Add this light to Alice&#x27;s Home" in response.content.decode()


def test_the_qr_link_asks_a_signed_out_person_to_sign_in_first(client, made):
    response = client.get(f"/claim/{CODE}")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/claim/")


def test_adding_a_light_walks_through_code_blink_and_name(client_for, bob, home, made, iot,
                                                          monkeypatch):
    from devices import shadow

    sent = []
    monkeypatch.setattr(shadow, "publish_cmd", lambda thing, cmd: sent.append((thing, cmd)))
    client = client_for(bob)
    response = client.post("/lights/add/", {"code": CODE})
    device = Device.objects.get(thing_name="sl-0123456789ab")
    assert response.status_code == 302
    assert response["Location"] == f"/lights/{device.code}/setup/"

    page = client.get(f"/lights/{device.code}/setup/").content.decode()
    assert "Waiting for the light to come online" in page
    assert 'hx-trigger="every 1s"' in page
    assert sent == []

    Device.objects.filter(pk=device.pk).update(connected=True)  # the consumer saw it report
    steps = client.get(f"/lights/{device.code}/setup/steps/").content.decode()
    assert "it is blinking now" in steps and "hx-trigger" not in steps
    assert sent == [("sl-0123456789ab", "identify")]
    client.get(f"/lights/{device.code}/setup/steps/")
    assert len(sent) == 1  # blinks once by itself ...
    client.post(f"/lights/{device.code}/blink/")
    assert len(sent) == 2  # ... and again when asked

    room = home.rooms.create(name="Office")
    response = client.post(f"/lights/{device.code}/setup/",
                           {"name": "Desk strip", "room": str(room.code)})
    assert response.status_code == 302 and response["Location"] == "/"
    device.refresh_from_db()
    assert (device.name, device.room) == ("Desk strip", room)


def test_the_dashboard_and_its_empty_state_offer_add_a_light(client_for, alice, vera, home):
    page = client_for(alice).get("/").content.decode()
    assert page.count('href="/lights/add/"') == 2
    assert 'href="/lights/add/"' not in client_for(vera).get("/").content.decode()


def test_a_wrong_code_in_the_portal_says_so_and_the_eleventh_is_refused(client_for, alice,
                                                                        home, made, iot):
    client = client_for(alice)
    for _ in range(10):
        response = client.post("/lights/add/", {"code": "ZZZZZ-ZZZZZ"})
        assert response.status_code == 422
        assert "This code is not valid" in response.content.decode()
    response = client.post("/lights/add/", {"code": CODE})
    assert response.status_code == 429
    assert "Too many wrong codes" in response.content.decode()
    assert not Device.objects.exists()


def test_viewers_cannot_add_and_outsiders_cannot_see_the_setup(client_for, vera, charlie, bob,
                                                               home, made, iot):
    assert client_for(vera).post("/lights/add/", {"code": CODE}).status_code == 403
    assert not Device.objects.exists()
    client_for(bob).post("/lights/add/", {"code": CODE})
    device = Device.objects.get()
    for user, status in ((charlie, 404), (vera, 403)):
        client = client_for(user)
        assert client.get(f"/lights/{device.code}/setup/").status_code == status
        assert client.get(f"/lights/{device.code}/setup/steps/").status_code == status
        assert client.post(f"/lights/{device.code}/blink/").status_code == status
        assert client.post(f"/lights/{device.code}/setup/", {"name": "X"}).status_code == status
    device.refresh_from_db()
    assert device.name == "New light"


def test_adding_needs_the_csrf_token(alice, home, made, iot):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice, backend="django.contrib.auth.backends.ModelBackend")
    assert client.post("/lights/add/", {"code": CODE}).status_code == 403
    assert not Device.objects.exists()
    page = client.get("/lights/add/")
    token = page.cookies["csrftoken"].value
    response = client.post("/lights/add/", {"code": CODE, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert Device.objects.filter(thing_name="sl-0123456789ab").exists()


def test_codes_are_fifty_random_bits_in_crockford_base32():
    code = claims.new_code()
    assert claims.normalize(code) == code
    assert len(code.replace("-", "")) * 5 == 50
    assert claims.normalize("abcde-fghjk") == "ABCDE-FGHJK"
    assert claims.normalize("OOOOO-IIIII") == "00000-11111"
    assert claims.normalize("ABCDE-FGHJU") is None  # U is not in the alphabet
    assert len({claims.new_code() for _ in range(1000)}) == 1000


def test_the_stored_hash_depends_on_the_secret_key(settings):
    first = claims.code_hash(CODE)
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40
    assert claims.code_hash(CODE) != first
    assert CODE not in first and CODE.replace("-", "") not in first.upper()
