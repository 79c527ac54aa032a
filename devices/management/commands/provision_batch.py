"""Make a batch of unclaimed lights for the factory.

    python manage.py provision_batch --count 200 --out ./batch-2026-11 [--method fleet|manual]

Writes, under --out: one bundle folder per light (named by its serial), `lights.csv` (serial,
thing, claim code and URL, setup Wi-Fi password, expiry) and `labels.pdf`, a printable sheet
with a QR code per light that opens `<portal>/claim/<code>`. The platform keeps only a hash of
each code.
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devices import actions, provisioning
from devices.models import Provisioning

MAX_BATCH = 10_000


class Command(BaseCommand):
    help = "Make unclaimed lights: serials, claim codes, bundles, a CSV and a label sheet."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, required=True)
        parser.add_argument("--out", type=Path, required=True,
                            help="folder for the batch (new or empty)")
        parser.add_argument("--method", choices=[Provisioning.FLEET, Provisioning.MANUAL],
                            default=Provisioning.FLEET,
                            help="fleet: a claim certificate, the light provisions itself on "
                                 "first boot (default); manual: a certificate per light now")
        parser.add_argument("--expires-days", type=int, default=settings.CLAIM_CODE_TTL_DAYS,
                            help="days a claim code stays valid")
        parser.add_argument("--led-count", type=int, default=provisioning.DEFAULT_LED_COUNT)
        parser.add_argument("--max-ma", type=int, default=provisioning.DEFAULT_MAX_MA)
        parser.add_argument("--portal", default=settings.PORTAL_URL,
                            help="the portal's address printed in the QR codes (PORTAL_URL)")

    def handle(self, *args, count: int, out: Path, method: str, expires_days: int,
               led_count: int, max_ma: int, portal: str, **options):
        if not 1 <= count <= MAX_BATCH:
            raise CommandError(f"--count: between 1 and {MAX_BATCH} lights.")
        if expires_days < 1:
            raise CommandError("--expires-days: at least 1 day.")
        if not 1 <= led_count <= 2000:
            raise CommandError("--led-count: between 1 and 2000 LEDs.")
        if not 100 <= max_ma <= 20000:
            raise CommandError("--max-ma: between 100 and 20000 mA.")
        portal = (portal or "").rstrip("/")
        if not portal.startswith(("https://", "http://")):
            raise CommandError("--portal: the portal's address, e.g. https://lights.example.com "
                               "(or set PORTAL_URL).")
        try:
            made = actions.do_make_batch(
                count, method, out, expires_days=expires_days, led_count=led_count,
                max_ma=max_ma, portal=portal, progress=self._progress(count),
            )
        except provisioning.ProvisioningError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(
            f"{len(made)} {method} light(s) made in {out}: lights.csv, labels.pdf and one "
            "bundle folder per serial."
        ))

    def _progress(self, count: int):
        """Progress on stderr for batches big enough to wait for (a line per 5 %)."""
        if count < 20:
            return None
        step = max(1, count // 20)
        interactive = sys.stderr.isatty()

        def show(done: int, total: int) -> None:
            if done % step and done != total:
                return
            text = f"made {done}/{total} lights ({done * 100 // total} %)"
            if interactive:
                self.stderr.write("\r" + text, ending="\n" if done == total else "")
            else:
                self.stderr.write(text)

        return show
