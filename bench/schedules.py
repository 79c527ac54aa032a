"""Schedules benchmark: the local runner's tick with 100,000 schedules in the database, and the
rate of mirror pushes to EventBridge (moto in-process, so this measures our side, not AWS).

    .venv/bin/python bench/schedules.py            # SQLite in a temporary file
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_schedules .venv/bin/python ...

BENCH_DATABASE_URL must name a database of its own: its public schema is dropped and rebuilt.
Target: a tick under 200 ms (the due query is a range scan of the index on next_run).
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCHEDULES = int(os.environ.get("BENCH_SCHEDULES", "100000"))
DUE = 20
PUSHES = 200
NOW = dt.datetime(2026, 6, 15, 5, 0, 30, tzinfo=dt.UTC)


class NullIotData:
    """Accepts shadow writes instantly: the tick's own cost is what is measured."""

    def update_thing_shadow(self, thingName, payload):
        return {"payload": b"{}"}


def setup_django(tmp: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartlight.settings")
    os.environ["SMARTLIGHT_AWS_MODE"] = "local"
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    if os.environ.get("BENCH_DATABASE_URL"):
        os.environ["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]
    else:
        os.environ.pop("DATABASE_URL", None)
        os.environ["SQLITE_PATH"] = str(Path(tmp) / "bench.sqlite3")
    os.environ["CELERY_FS_DIR"] = str(Path(tmp) / "celery")
    import django

    django.setup()
    from django.core.management import call_command

    if os.environ.get("BENCH_DATABASE_URL"):
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    call_command("migrate", verbosity=0)


def populate() -> tuple[object, list[int]]:
    import random

    from accounts.models import Home
    from devices.models import Device
    from schedules.models import Schedule

    rng = random.Random(1)
    home = Home.objects.create(name="Bench", timezone="Europe/Berlin")
    device = Device.objects.create(home=home, name="Lamp", thing_name="sl-00000000be01")
    rows = []
    for n in range(SCHEDULES):
        due = n < DUE
        rows.append(
            Schedule(
                code=uuid.uuid4(),
                home=home,
                name=f"S{n}",
                trigger="weekly",
                run_time=dt.time(rng.randrange(24), rng.randrange(60)),
                weekdays=[0, 1, 2, 3, 4],
                desired={"on": True, "brightness": 200},
                next_run=NOW - dt.timedelta(seconds=rng.randrange(1, 60))
                if due
                else NOW + dt.timedelta(minutes=rng.randrange(1, 7 * 24 * 60)),
            )
        )
    started = time.perf_counter()
    Schedule.objects.bulk_create(rows, batch_size=5000)
    Through = Schedule.devices.through
    due_ids = list(Schedule.objects.filter(next_run__lte=NOW).values_list("id", flat=True))
    Through.objects.bulk_create([Through(schedule_id=i, device_id=device.pk) for i in due_ids])
    print(f"inserted {SCHEDULES:,} schedules in {time.perf_counter() - started:.1f} s")
    return home, due_ids


def bench_tick() -> None:
    from django.db import connection

    from schedules.models import Schedule
    from schedules.runner import Runner

    runner = Runner(iot_data=NullIotData(), clock=lambda: NOW)
    sql, params = (
        Schedule.objects.filter(next_run__lte=NOW, enabled=True)
        .order_by("next_run")
        .values_list("id", flat=True)[:100]
        .query.sql_with_params()
    )
    with connection.cursor() as cursor:
        explain = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
        cursor.execute(explain + sql, params)
        plan = " | ".join(str(row[-1]) for row in cursor.fetchall())
    print(f"due query plan ({connection.vendor}): {plan}")

    started = time.perf_counter()
    fired = runner.tick()
    busy = (time.perf_counter() - started) * 1000
    assert len(fired) == DUE and all(r["status"] == "ok" for r in fired), fired[:2]

    idle = []
    for _ in range(20):
        started = time.perf_counter()
        assert runner.tick() == []
        idle.append((time.perf_counter() - started) * 1000)
    print(
        f"runner tick, {Schedule.objects.count():,} schedules, none due: "
        f"median {statistics.median(idle):.2f} ms, max {max(idle):.2f} ms"
    )
    print(
        f"runner tick, {DUE} due (claim + Lambda handler + result each): {busy:.1f} ms "
        f"({busy / DUE:.2f} ms per run) -> target < 200 ms: {'met' if busy < 200 else 'MISSED'}"
    )


def bench_sync(home) -> None:
    from django.conf import settings
    from moto import mock_aws

    from schedules import mirror
    from schedules.models import Schedule
    from smartlight import aws

    settings.AWS_MODE = "aws"
    settings.IOT_DATA_ENDPOINT_URL = ""
    settings.AWS_ENDPOINT_OVERRIDES = {}
    codes = [
        str(c) for c in Schedule.objects.filter(home=home).values_list("code", flat=True)[:PUSHES]
    ]
    for backend in ("rules", "scheduler"):
        aws.reset_clients()
        with mock_aws():
            started = time.perf_counter()
            for code in codes:
                mirror.push(code, now=NOW, backend_name=backend)
            elapsed = time.perf_counter() - started
            started = time.perf_counter()
            drifting = [c for c in codes if mirror.drift(c, now=NOW, backend_name=backend)]
            checked = time.perf_counter() - started
        assert not drifting, drifting[:3]
        print(
            f"sync to EventBridge ({backend}, moto in-process): {len(codes) / elapsed:.0f} "
            f"pushes/s ({elapsed / len(codes) * 1000:.1f} ms each); drift check "
            f"{len(codes) / checked:.0f}/s"
        )


def main() -> None:
    import logging

    logging.disable(logging.INFO)  # one line per fired run would drown the figures
    with tempfile.TemporaryDirectory() as tmp:
        setup_django(tmp)
        home, _ = populate()
        bench_tick()
        bench_sync(home)


if __name__ == "__main__":
    main()
