"""Create (or refresh) the demo home used by `make run`, and print how to sign in."""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Home, Membership, Role, User

DEMO_EMAIL = "demo@example.com"
DEMO_HOME = "Demo Home"


def demo_password() -> str:
    """Stable across runs of one checkout: generated once, kept in var/."""
    path = Path(settings.BASE_DIR) / "var" / "demo-password.txt"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    password = "demo-" + secrets.token_urlsafe(9)
    path.write_text(password + "\n")
    return password


class Command(BaseCommand):
    help = "Create the demo user and Demo Home (idempotent) and print the sign-in."

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="Do not print the sign-in.")

    def handle(self, *args, quiet: bool = False, **options):
        password = demo_password()
        with transaction.atomic():
            user, _ = User.objects.get_or_create(email=DEMO_EMAIL)
            user.set_password(password)
            user.save(update_fields=["password"])
            home = (
                Home.objects.filter(name=DEMO_HOME, memberships__user=user).first()
                or Home.objects.create(name=DEMO_HOME, timezone="Europe/Berlin",
                                       latitude=52.52, longitude=13.405)
            )
            Membership.objects.get_or_create(user=user, home=home,
                                             defaults={"role": Role.OWNER})
        if not quiet:
            self.stdout.write(
                "\n"
                "  Smart Light is starting at http://127.0.0.1:8000\n"
                f"  Sign in as {DEMO_EMAIL} with password {password}\n"
            )
