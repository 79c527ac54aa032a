"""Provision one light by hand: thing, certificate, the device policy, and its bundle.

    python manage.py provision_device --home "Alice's Home" --name "Desk strip" --room Office \
        --out ./desk-strip

The bundle (certs/ and config.json) is the only place the private key is ever written. Running
it again for the same light name in the same home gives that light a new certificate and
deactivates the old one, so exactly one certificate of the light is active afterwards.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Home
from devices import actions, provisioning


def find_home(value: str) -> Home:
    """A home by its code (UUID) or its exact name (which must then be unique)."""
    try:
        code = uuid.UUID(value)
    except ValueError:
        homes = list(Home.objects.filter(name=value)[:2])
        if len(homes) > 1:
            raise CommandError(f"--home: several homes are named {value!r}; "
                               "give the home's code instead.") from None
    else:
        homes = list(Home.objects.filter(code=code))
    if not homes:
        raise CommandError(f"--home: no home {value!r} (give its code or its exact name).")
    return homes[0]


def clean_name(value: str) -> str:
    name = value.strip()
    if not name or len(name) > 100 or any(ch < " " or ch == "\x7f" for ch in name):
        raise CommandError("--name: a light's name is 1 to 100 printable characters.")
    return name


class Command(BaseCommand):
    help = "Create a light's thing and certificate and write its device bundle."

    def add_arguments(self, parser):
        parser.add_argument("--home", required=True, help="home code or exact name")
        parser.add_argument("--name", required=True, help="the light's name in the home")
        parser.add_argument("--room", default="", help="room name (made if missing)")
        parser.add_argument("--led-count", type=int, default=provisioning.DEFAULT_LED_COUNT)
        parser.add_argument("--max-ma", type=int, default=provisioning.DEFAULT_MAX_MA,
                            help="power supply budget in mA")
        parser.add_argument("--out", required=True, type=Path,
                            help="folder for the bundle (new or empty)")

    def handle(self, *args, home: str, name: str, room: str, led_count: int, max_ma: int,
               out: Path, **options):
        target = find_home(home)
        name = clean_name(name)
        room = room.strip()
        if len(room) > 100:
            raise CommandError("--room: a room's name is at most 100 characters.")
        if not 1 <= led_count <= 2000:
            raise CommandError("--led-count: between 1 and 2000 LEDs.")
        if not 100 <= max_ma <= 20000:
            raise CommandError("--max-ma: between 100 and 20000 mA.")
        try:
            provisioning.check_out_dir(out)
            device = actions.do_provision_device(target, name, room_name=room,
                                                 led_count=led_count, max_ma=max_ma, out=out)
        except provisioning.ProvisioningError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(
            f"{device.thing_name} “{device.name}” in {target.name}: certificate "
            f"{device.certificate_id[:12]}…, bundle written to {out}"
        ))
