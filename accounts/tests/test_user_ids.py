"""A local (non-Cognito) user's iot_user_id: a UUID of their own that never changes.

It is the `user_id` key of the user's iot_cookie item (docs/decisions.md), so a new value on
some later save would orphan the item and lock the person out of their lights.
"""

from __future__ import annotations

import uuid

from accounts.models import User

PASSWORD = "correct-horse-battery"  # the root conftest fixtures' password


def test_a_local_user_gets_a_uuid(alice):
    assert str(uuid.UUID(alice.iot_user_id)) == alice.iot_user_id
    assert User.objects.get(pk=alice.pk).iot_user_id == alice.iot_user_id


def test_every_user_gets_a_different_one(alice, bob, charlie, vera):
    ids = {u.iot_user_id for u in User.objects.all()}
    assert len(ids) == 4


def test_it_survives_saves_and_changes_of_the_user(alice):
    before = alice.iot_user_id
    alice.first_name = "Alice"
    alice.save()
    alice.set_password("another-long-password")
    alice.save()
    User.objects.get(pk=alice.pk).save()
    assert User.objects.get(pk=alice.pk).iot_user_id == before


def test_a_signed_in_local_user_keeps_it(client, alice):
    before = alice.iot_user_id
    # Every sign-in runs the account adapter, which adopts a Cognito sub when one is linked.
    response = client.post("/accounts/login/", {"login": alice.email, "password": PASSWORD})
    assert response.status_code == 302
    assert User.objects.get(pk=alice.pk).iot_user_id == before


def test_a_user_signing_up_locally_gets_one(client, alice):
    response = client.post("/accounts/signup/", {
        "email": "dora@example.com", "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302
    dora = User.objects.get(email="dora@example.com")
    assert str(uuid.UUID(dora.iot_user_id)) == dora.iot_user_id
    assert dora.iot_user_id != alice.iot_user_id
