"""Two runners at once on PostgreSQL: row locks with SKIP LOCKED, every run fired exactly once.

Runs when the suite uses PostgreSQL (as `make test` does when it answers on loopback); SQLite
has no row locks and is covered by the compare-and-set test in test_run_schedules.py.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter

import pytest
from django.db import connection

from schedules import actions
from schedules import runner as runner_module
from schedules.runner import Runner
from schedules.tests.conftest import weekly_raw

UTC = dt.UTC
CREATED = dt.datetime(2026, 6, 15, 4, 0, tzinfo=UTC)
NOW = dt.datetime(2026, 6, 15, 5, 0, 30, tzinfo=UTC)

pytestmark = pytest.mark.django_db(transaction=True)


class FakeIotData:
    """Accepts every shadow write (the race is about claiming runs, not about AWS)."""

    def update_thing_shadow(self, thingName, payload):
        time.sleep(0.002)  # a little I/O time, so the two runners overlap
        return {"payload": b"{}"}


def test_two_runners_at_once_fire_every_due_run_exactly_once(aws, home, lamp, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (row locks); run with DATABASE_URL=postgres://...")
    # Small batches, so each runner claims several and they meet on the same rows.
    monkeypatch.setattr(runner_module, "BATCH", 7)
    # (`aws`: the mirror pushes that follow each commit go to moto, not the network.)
    for n in range(60):
        data = actions.clean_schedule(home, weekly_raw(lamp, name=f"S{n}"), now=CREATED)
        actions.do_create_schedule(home, data, now=CREATED)

    fired: list[list[dict]] = [[], []]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            runner = Runner(iot_data=FakeIotData(), clock=lambda: NOW)
            start.wait()
            while batch := runner.tick():
                fired[index].extend(batch)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert not errors
    counts = Counter(result["schedule"] for batch in fired for result in batch)
    assert len(counts) == 60
    assert set(counts.values()) == {1}
    # Both runners did part of the work (the locks let them share, not queue).
    assert fired[0] and fired[1]
