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


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The fixture users are created with a password; PBKDF2's deliberate slowness (~0.3 s a
    # user on this machine) would dominate these tests without testing anything of ours.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
