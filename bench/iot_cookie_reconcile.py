"""iot_cookie mirror cost: building every item from the database, pushing, reconciling.

    .venv/bin/python bench/iot_cookie_reconcile.py [--homes 500] [--members 4] [--lights 4]

Builds a throwaway SQLite database in memory with N homes (each with M members of mixed roles
and L lights) and a moto (in-process) `iot_cookie` table, then measures:
- expected_items(): the items the database implies, with its query count (constant: 2);
- one push per user (DynamoDB PutItem through the boto3 factory, moto answering);
- reconcile_iot_cookie with no drift (Scan + compare) and with --fix after 10% drift.
moto stands in for DynamoDB, so the AWS figures are the client-side cost, not network latency.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartlight.settings")
os.environ["SQLITE_PATH"] = ":memory:"
os.environ.pop("DATABASE_URL", None)
os.environ["SMARTLIGHT_AWS_MODE"] = "local"
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from moto import mock_aws  # noqa: E402


def build(homes: int, members: int, lights: int) -> None:
    from accounts.models import Home, IotCookieOutbox, Membership, Role, User
    from devices.models import Device

    call_command("migrate", verbosity=0, interactive=False)
    roles = [Role.OWNER, Role.MEMBER, Role.VIEWER]
    users = User.objects.bulk_create(
        [User(email=f"user{i}@example.com") for i in range(homes * members)]
    )
    home_rows = Home.objects.bulk_create([Home(name=f"Home {i}") for i in range(homes)])
    Membership.objects.bulk_create(
        [
            Membership(user=users[h * members + j], home=home, role=roles[min(j, 2)])
            for h, home in enumerate(home_rows)
            for j in range(members)
        ]
    )
    Device.objects.bulk_create(
        [
            Device(home=home, name=f"Light {k}", thing_name=f"sl-{h * lights + k:012x}")
            for h, home in enumerate(home_rows)
            for k in range(lights)
        ]
    )
    IotCookieOutbox.objects.all().delete()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--homes", type=int, default=500)
    parser.add_argument("--members", type=int, default=4)
    parser.add_argument("--lights", type=int, default=4)
    args = parser.parse_args()

    # moto intercepts AWS's own endpoint names; local mode would point at a moto server.
    settings.AWS_MODE = "aws"
    from accounts import iot_cookie
    from smartlight import aws

    aws.reset_clients()
    build(args.homes, args.members, args.lights)
    users = args.homes * args.members
    with mock_aws():
        client = aws.client("dynamodb")
        client.create_table(
            TableName=settings.IOT_COOKIE_TABLE,
            AttributeDefinitions=[{"AttributeName": "user_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "user_id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )

        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            items = iot_cookie.expected_items()
            build_s = time.perf_counter() - start
        print(f"users: {users}, homes: {args.homes}, lights: {args.homes * args.lights}")
        print(
            f"expected_items: {build_s * 1000:.1f} ms for {len(items)} items "
            f"({len(queries)} queries)"
        )

        start = time.perf_counter()
        for user_id in items:
            iot_cookie.push(user_id)
        push_s = time.perf_counter() - start
        print(f"push (one PutItem per user): {push_s / len(items) * 1000:.2f} ms per item")

        start = time.perf_counter()
        call_command("reconcile_iot_cookie", stdout=io.StringIO())
        print(f"reconcile, no drift: {(time.perf_counter() - start) * 1000:.0f} ms")

        for user_id in list(items)[::10]:
            client.delete_item(TableName=settings.IOT_COOKIE_TABLE, Key={"user_id": {"S": user_id}})
        start = time.perf_counter()
        out = io.StringIO()
        call_command("reconcile_iot_cookie", "--fix", stdout=out)
        print(
            f"reconcile --fix, 10% missing: {(time.perf_counter() - start) * 1000:.0f} ms "
            f"({out.getvalue().strip().splitlines()[-1]})"
        )


if __name__ == "__main__":
    main()
