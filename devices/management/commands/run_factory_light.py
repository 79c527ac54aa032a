"""`make run`'s factory-state light: a fresh claim-certificate bundle, then the simulator.

Waits for localcloud, gives the demo factory light (seed_demo's FACTORY_SERIAL) a new fleet
claim certificate in `var/lights/sl-<serial>/` (localcloud's AWS state starts empty on each
run, so the light is back in factory state each time), records its serial for the
pre-provisioning hook, and then runs it in the simulator, which provisions it by claim.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devices import provisioning
from devices.management.commands.seed_demo import (
    FACTORY_SERIAL,
    ensure_factory_serial,
    factory_light_secrets,
)
from devices.models import Provisioning


def _wait_for_localcloud(timeout: float) -> None:
    deadline = time.monotonic() + timeout
    ca = Path(settings.IOT_SERVER_CA_FILE)
    while True:
        try:
            if ca.exists():
                provisioning.ensure_thing_type()
                return
        except provisioning.AWS_ERRORS:
            pass
        if time.monotonic() > deadline:
            raise CommandError(f"localcloud did not answer within {timeout:.0f} s "
                               f"(moto at {settings.MOTO_ENDPOINT_URL}, CA {ca}).")
        time.sleep(0.5)


def _simulator_runs_bundles() -> bool:
    helped = subprocess.run([sys.executable, "-m", "firmware.sim", "--help"],
                            capture_output=True, text=True, cwd=settings.BASE_DIR, check=False)
    return "--device-dir" in helped.stdout


class Command(BaseCommand):
    help = "Put the demo factory light in factory state and run it in the simulator."

    def add_arguments(self, parser):
        parser.add_argument("--lights-dir", type=Path,
                            default=Path(settings.BASE_DIR) / "var" / "lights")
        parser.add_argument("--no-sim", action="store_true", help="only write the bundle")
        parser.add_argument("--timeout", type=float, default=60.0)

    def handle(self, *args, lights_dir: Path, no_sim: bool, timeout: float, **options):
        if settings.AWS_MODE != "local":
            raise CommandError("The demo factory light runs against localcloud only.")
        _wait_for_localcloud(timeout)
        ensure_factory_serial()
        label = factory_light_secrets()
        folder = lights_dir / f"sl-{FACTORY_SERIAL}"
        undo = provisioning.Undo()
        try:
            provisioning.ensure_device_policy()
            provisioning.ensure_claim_policy()
            provisioning.ensure_serials_table()
            claim = provisioning.issue_claim_certificate(undo)
            provisioning.set_serial_status(FACTORY_SERIAL, "made",
                                           made_at=time.strftime("%Y-%m-%dT%H:%M:%SZ"))
            shutil.rmtree(folder, ignore_errors=True)
            config = {
                **provisioning.base_config(f"sl-{FACTORY_SERIAL}", 60,
                                           provisioning.DEFAULT_MAX_MA),
                "serial": FACTORY_SERIAL, "template": settings.FLEET_TEMPLATE_NAME,
                "claim_code": label["claim_code"], "ap_password": label["ap_password"],
            }
            provisioning.write_bundle(folder, config, {
                provisioning.CA_FILE: provisioning.server_ca_pem(),
                provisioning.CLAIM_CERT_FILE: claim.certificate_pem,
                provisioning.CLAIM_KEY_FILE: claim.private_key,
            })
        except (provisioning.ProvisioningError, *provisioning.AWS_ERRORS, OSError) as exc:
            undo.rollback()
            raise CommandError(f"The factory light could not be prepared: {exc}") from exc
        self.stdout.write(f"factory light sl-{FACTORY_SERIAL} ({Provisioning.FLEET.label}): "
                          f"claim code {label['claim_code']}, bundle {folder}")
        if no_sim:
            return
        if not _simulator_runs_bundles():
            self.stdout.write("this simulator cannot run a bundle (--device-dir); the factory "
                              "light stays off")
            signal.pause()
            return
        sys.stdout.flush()
        # This interpreter running our own simulator on our own folder, never outside input.
        os.execv(sys.executable, [sys.executable, "-m", "firmware.sim",  # noqa: S606
                                  "--device-dir", str(folder)])
