"""Multi-step changes to homes and memberships. Each runs in one transaction."""

from __future__ import annotations

from django.db import transaction

from accounts.models import Home, Membership, Role, User


def do_create_home(user: User, name: str, timezone: str = "UTC") -> Home:
    with transaction.atomic():
        home = Home.objects.create(name=name, timezone=timezone)
        Membership.objects.create(user=user, home=home, role=Role.OWNER)
    return home


def ensure_own_home(user: User) -> Home | None:
    """A user's first sign-in creates their own home; later sign-ins change nothing."""
    if Membership.objects.filter(user=user).exists():
        return None
    local = user.email.split("@", 1)[0] if user.email else "My"
    return do_create_home(user, f"{local}'s home")
