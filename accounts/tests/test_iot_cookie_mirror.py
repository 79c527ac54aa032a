"""The iot_cookie mirror: membership changes reach DynamoDB (moto) once they commit."""

from __future__ import annotations

import pytest
from botocore.exceptions import EndpointConnectionError

from accounts import actions, iot_cookie
from accounts.models import IotCookieOutbox, Membership, User
from smartlight import outbox


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """`with committed(): ...` runs the block's on-commit callbacks as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def item(user):
    user.refresh_from_db()
    return iot_cookie.remote_item(user.iot_user_id)


def test_a_new_home_writes_the_owners_item(alice, iot_table, committed):
    with committed():
        home = actions.do_create_home(alice, "Flat")
    assert item(alice) == {
        "user_id": alice.iot_user_id,
        "email": "alice@example.com",
        "homes": [{"code": str(home.code), "name": "Flat", "role": "owner"}],
        "things": [],
    }
    assert not IotCookieOutbox.objects.exists()


def test_things_are_listed_for_owners_and_members_but_not_viewers(
    alice, bob, vera, home, synced, committed
):
    from devices.models import Device

    Device.objects.create(home=home, name="Desk", thing_name="sl-00000000000a")
    Device.objects.create(home=home, name="Hall", thing_name="sl-00000000000b")
    for user in (alice, bob, vera):
        iot_cookie.push(user.iot_user_id)
    assert item(alice)["things"] == ["sl-00000000000a", "sl-00000000000b"]
    assert item(bob)["things"] == ["sl-00000000000a", "sl-00000000000b"]
    assert item(vera)["things"] == []
    assert item(vera)["homes"][0]["role"] == "viewer"


def test_a_role_change_updates_the_item(alice, bob, home, synced, committed):
    with committed():
        actions.do_change_role(Membership.objects.get(user=bob, home=home), "viewer")
    assert item(bob)["homes"][0]["role"] == "viewer"


def test_leaving_the_last_home_deletes_the_item(alice, bob, home, synced, committed):
    iot_cookie.push(bob.iot_user_id)
    assert item(bob) is not None
    with committed():
        actions.do_leave_home(Membership.objects.get(user=bob, home=home))
    assert item(bob) is None


def test_accepting_an_invitation_adds_the_home(
    alice, charlie, home, charlies_home, synced, committed
):
    from allauth.account.models import EmailAddress

    from accounts.models import Invitation

    EmailAddress.objects.create(user=charlie, email=charlie.email, primary=True, verified=True)
    invitation = Invitation.objects.create(home=home, email=charlie.email, invited_by=alice)
    with committed():
        actions.do_accept_invitation(invitation, charlie)
    assert {h["name"] for h in item(charlie)["homes"]} == {"Alice's Home", "Charlie's Home"}


def test_adopting_a_cognito_sub_moves_the_item(alice, home, synced, committed):
    old = alice.iot_user_id
    iot_cookie.push(old)
    with committed():
        actions.do_adopt_cognito_sub(alice, "cognito-sub-1")
    assert iot_cookie.remote_item(old) is None
    assert iot_cookie.remote_item("cognito-sub-1")["email"] == "alice@example.com"


def test_a_refused_change_records_nothing(alice, home, synced, committed):
    before = item(alice)
    with committed(), pytest.raises(actions.ActionError):
        actions.do_leave_home(Membership.objects.get(user=alice, home=home))
    assert not IotCookieOutbox.objects.exists()
    assert item(alice) == before


def test_a_failed_push_keeps_the_change_and_never_breaks_the_request(
    client_for, alice, bob, home, synced, committed, monkeypatch
):
    def unreachable(user_id):
        raise EndpointConnectionError(endpoint_url="https://dynamodb.example")

    monkeypatch.setattr(iot_cookie, "push", unreachable)
    with committed():
        response = client_for(bob).post(f"/homes/{home.code}/leave/")
    assert response.status_code == 302
    assert not Membership.objects.filter(user=bob, home=home).exists()
    row = IotCookieOutbox.objects.get(user_id=bob.iot_user_id)
    assert row.attempts == 1 and "Could not connect" in row.last_error

    monkeypatch.undo()
    assert outbox.flush(iot_cookie.MIRROR) == 0
    assert not IotCookieOutbox.objects.exists()


def test_pushing_twice_is_harmless(alice, home, iot_table):
    assert outbox.push.apply(args=[iot_cookie.MIRROR, alice.iot_user_id]).get() == "put"
    first = item(alice)
    assert outbox.push.apply(args=[iot_cookie.MIRROR, alice.iot_user_id]).get() == "put"
    assert item(alice) == first


def test_a_change_during_a_push_keeps_its_outbox_row(alice, home, synced, monkeypatch):
    IotCookieOutbox.objects.create(user_id=alice.iot_user_id)
    real_push = iot_cookie.push

    def push_while_changing(user_id):
        IotCookieOutbox.objects.filter(user_id=user_id).update(version=2)
        return real_push(user_id)

    monkeypatch.setattr(iot_cookie, "push", push_while_changing)
    outbox.push_entry(iot_cookie.MIRROR, alice.iot_user_id)
    assert IotCookieOutbox.objects.filter(user_id=alice.iot_user_id, version=2).exists()


def test_a_deleted_user_loses_the_item(alice, home, iot_table):
    iot_cookie.push(alice.iot_user_id)
    user_id = alice.iot_user_id
    User.objects.filter(pk=alice.pk).delete()
    assert iot_cookie.push(user_id) == "deleted"
    assert iot_cookie.remote_item(user_id) is None
