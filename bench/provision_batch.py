"""Factory batch cost: provision_batch for N lights, fleet and manual, and its label sheet.

    .venv/bin/python bench/provision_batch.py [--count 500]

Runs the real command against a throwaway SQLite database in memory and moto in-process (AWS
IoT, DynamoDB): per light a serial, a claim code, a SERIALS_TABLE item, a bundle folder, a CSV
row and a QR label; `manual` also creates a thing and a certificate per light. moto stands in
for AWS, so the AWS figures are the client-side cost, not network latency.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartlight.settings")
os.environ["SQLITE_PATH"] = ":memory:"
os.environ.pop("DATABASE_URL", None)
os.environ["SMARTLIGHT_AWS_MODE"] = "local"
os.environ["MOTO_ENDPOINT_URL"] = ""  # moto in-process answers AWS's own endpoints
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from moto import mock_aws  # noqa: E402


def run(count: int, method: str, folder: Path) -> float:
    started = time.perf_counter()
    call_command("provision_batch", "--count", str(count), "--method", method,
                 "--out", str(folder), "--portal", "https://lights.example.com",
                 stdout=io.StringIO(), stderr=io.StringIO())
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args()
    call_command("migrate", verbosity=0, interactive=False)
    with tempfile.TemporaryDirectory() as tmp, mock_aws():
        ca = Path(tmp) / "ca.pem"
        ca.write_text("-----BEGIN CERTIFICATE-----\nBENCH\n-----END CERTIFICATE-----\n")
        settings.IOT_SERVER_CA_FILE = str(ca)
        for method in ("fleet", "manual"):
            folder = Path(tmp) / method
            seconds = run(args.count, method, folder)
            sheet = (folder / "labels.pdf").stat().st_size
            print(f"{method}: {args.count} lights in {seconds:.1f} s "
                  f"({args.count / seconds:.0f} lights/s, {seconds / args.count * 1000:.1f} ms "
                  f"each); labels.pdf {sheet / 1024:.0f} KiB "
                  f"({-(-args.count // 24)} pages)")


if __name__ == "__main__":
    main()
