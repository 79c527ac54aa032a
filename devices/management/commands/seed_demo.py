"""Create (or refresh) the demo home used by `make run`, and print how to sign in."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts import iot_cookie
from accounts.models import Home, Membership, Role, User
from devices import claims
from devices.models import Device, Provisioning, Room, Serial

DEMO_EMAIL = "demo@example.com"
DEMO_HOME = "Demo Home"
# The simulated lights `make run` starts (firmware/sim): fixed thing names so the simulator,
# the shadows in localcloud and these rows agree across restarts. (thing, name, room, LEDs)
DEMO_LIGHTS = [
    ("sl-00000000d030", "Desk strip", "Office", 30),
    ("sl-00000000d060", "Shelf strip", "Living room", 60),
    ("sl-00000000d150", "Sofa backlight", "Living room", 150),
]


def demo_password() -> str:
    """Stable across runs of one checkout: generated once, kept in var/."""
    path = Path(settings.BASE_DIR) / "var" / "demo-password.txt"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    password = "demo-" + secrets.token_urlsafe(9)
    path.write_text(password + "\n")
    return password


# One more simulated light, in factory state: it has only the fleet claim certificate, and its
# claim code is printed so a newcomer can try "Add a light" (run_factory_light starts it).
FACTORY_SERIAL = "00000000fac7"


def factory_light_secrets() -> dict[str, str]:
    """The factory light's claim code and setup Wi-Fi password: its "label", kept in var/."""
    path = Path(settings.BASE_DIR) / "var" / "demo-factory-light.json"
    try:
        found = json.loads(path.read_text())
        if claims.normalize(found.get("claim_code", "")) == found["claim_code"]:
            return found
    except (OSError, ValueError, KeyError):
        pass
    label = {"serial": FACTORY_SERIAL, "claim_code": claims.new_code(),
             "ap_password": "".join(secrets.choice(claims.ALPHABET.lower()) for _ in range(12))}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(label) + "\n")
    return label


def ensure_factory_serial() -> tuple[Serial, str]:
    """The factory light as a serial the platform made; returns it and its claim code."""
    code = factory_light_secrets()["claim_code"]
    serial, _ = Serial.objects.get_or_create(
        serial=FACTORY_SERIAL,
        defaults={"method": Provisioning.FLEET, "code_hash": claims.code_hash(code),
                  "code_expires": timezone.now() + timedelta(days=365), "batch": "demo"},
    )
    if serial.device_id is None:
        serial.code_hash = claims.code_hash(code)
        serial.code_expires = timezone.now() + timedelta(days=365)
        serial.save(update_fields=["code_hash", "code_expires"])
    return serial, code


def ensure_demo_lights(home: Home) -> list[Device]:
    """The three demo lights in Demo Home, each in its room (existing rows are kept as they are).

    `led_count` is only a first guess shown until the light reports its own.
    """
    lights = []
    any_changed = False
    for thing, name, room_name, led_count in DEMO_LIGHTS:
        room, _ = Room.objects.get_or_create(home=home, name=room_name)
        device, created = Device.objects.get_or_create(
            thing_name=thing,
            defaults={"home": home, "room": room, "name": name,
                      "reported": {"led_count": led_count}},
        )
        changed = created
        if not created and device.home_id != home.pk:
            # The thing was handed to another home by hand; the demo takes it back.
            iot_cookie.mark_home(device.home)
            device.home, device.room = home, room
            device.save(update_fields=["home", "room"])
            changed = True
        lights.append(device)
        any_changed = any_changed or changed
    if any_changed:
        # Once for all three: the members' items now list the demo things.
        iot_cookie.mark_home(home)
    return lights


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
            ensure_demo_lights(home)
            factory, code = ensure_factory_serial()
        if not quiet:
            if factory.device_id is None:
                add = (f"  Add a light with claim code {code} "
                       f"({claims.claim_url(code, 'http://127.0.0.1:8000')})\n")
            else:
                add = (f"  The factory-state light sl-{FACTORY_SERIAL} was added already "
                       f"(claim code {code} works again once it is removed)\n")
            self.stdout.write(
                "\n"
                "  Smart Light is starting at http://127.0.0.1:8000\n"
                f"  Sign in as {DEMO_EMAIL} with password {password}\n"
                + add
            )
