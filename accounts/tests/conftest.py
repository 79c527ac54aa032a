"""Helpers for the accounts tests: a snapshot of everything a refused request must not change."""

from __future__ import annotations

import pytest


def accounts_state() -> dict:
    from accounts.models import ApiToken, Home, Invitation, Membership, User

    return {
        "homes": sorted(
            Home.objects.values_list("code", "name", "timezone", "latitude", "longitude")
        ),
        "memberships": sorted(Membership.objects.values_list("user_id", "home_id", "role")),
        "invitations": sorted(
            Invitation.objects.values_list("code", "email", "role", "accepted", "accepted_by")
        ),
        "tokens": sorted(ApiToken.objects.values_list("code", "user_id", "name")),
        "users": sorted(User.objects.values_list("id", "email", "iot_user_id")),
    }


@pytest.fixture
def unchanged():
    """`with unchanged(): ...` asserts the block leaves accounts data exactly as it was."""
    from contextlib import contextmanager

    @contextmanager
    def check():
        before = accounts_state()
        yield
        assert accounts_state() == before

    return check


@pytest.fixture
def membership_of():
    from accounts.models import Membership

    def get(user, home):
        return Membership.objects.get(user=user, home=home)

    return get


@pytest.fixture
def iot_table(aws, settings):
    """moto in-process with an empty `iot_cookie` table; returns a DynamoDB client.

    Celery tasks run in-process, so a committed change reaches the table at once.
    """
    client = aws.client("dynamodb")
    client.create_table(
        TableName=settings.IOT_COOKIE_TABLE,
        AttributeDefinitions=[{"AttributeName": "user_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "user_id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


@pytest.fixture
def synced(iot_table, home, charlies_home):
    """Given the mirror is in step: the fixture homes' pending items are pushed."""
    from accounts import iot_cookie
    from accounts.models import IotCookieOutbox
    from smartlight import outbox

    assert outbox.flush(iot_cookie.MIRROR) == 0
    assert not IotCookieOutbox.objects.exists()
    return iot_table
