"""The local schedule runner: fires due schedules through the schedule Lambda's own handler.

In AWS, EventBridge invokes the Lambda; locally (and in tests) `manage.py run_schedules` does the
same in-process against the configured iot-data endpoint (localcloud).

Each due run is claimed before it fires: in one transaction per batch the rows are locked
(`SELECT ... FOR UPDATE SKIP LOCKED` where the database has it, so a second runner passes over
them and takes the next ones instead of waiting) and each `next_run` is moved on with a
compare-and-set on its old value, which is what makes SQLite (no row locks, but serialised
writes) safe too. Results are written back in one more transaction. A run is therefore fired at most
once even with several runners; a runner that dies between claim and fire loses that run
rather than firing it twice.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import logging
import sys
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from schedules import timing
from schedules.models import Schedule
from schedules.tasks import repair_stalled_mirrors
from smartlight import outbox

log = logging.getLogger(__name__)

GRACE = dt.timedelta(minutes=5)
BATCH = 100
HANDLER_PATH = Path(settings.BASE_DIR) / "lambda" / "schedule_handler.py"


@cache
def lambda_module() -> Any:
    """lambda/schedule_handler.py, loaded by path (`lambda` is a keyword, not a package)."""
    spec = importlib.util.spec_from_file_location("smartlight_schedule_handler", HANDLER_PATH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class Runner:
    def __init__(
        self,
        iot_data: Any = None,
        clock: Callable[[], dt.datetime] = timezone.now,
        handler: Callable[..., dict] | None = None,
    ) -> None:
        self._iot_data = iot_data
        self.clock = clock
        self.handler = handler or lambda_module().handler

    @property
    def iot_data(self) -> Any:
        if self._iot_data is None:
            from smartlight import aws

            self._iot_data = aws.client("iot-data")
        return self._iot_data

    def due(self, now: dt.datetime):
        """Due schedules, oldest first. Served by the index on next_run (a range scan)."""
        return (
            Schedule.objects.filter(next_run__lte=now, enabled=True)
            .select_related("home", "scene")
            .prefetch_related("devices", "rooms__devices")
            .order_by("next_run")
        )

    def tick(self) -> list[dict]:
        """Fire every run due now. Returns one result per schedule handled."""
        now = self.clock()
        results = []
        for schedule, fire_at in self.claim(now):
            results.append(self._fire(schedule, fire_at, now))
        self._record(results)
        return results

    def claim(self, now: dt.datetime) -> list[tuple[Schedule, dt.datetime | None]]:
        """Claim a batch of due runs in one short transaction (one commit for the batch)."""
        with transaction.atomic():
            rows = self.due(now)
            if connection.features.has_select_for_update_skip_locked:
                # Another runner's claimed rows are passed over, not waited for.
                rows = rows.select_for_update(skip_locked=True, of=("self",))
            return self._claim_rows(list(rows[:BATCH]), now)

    def _claim_rows(
        self, rows: list[Schedule], now: dt.datetime
    ) -> list[tuple[Schedule, dt.datetime | None]]:
        claimed = []
        with transaction.atomic():
            for schedule in rows:
                due = schedule.next_run
                assert due is not None
                trigger = schedule.as_trigger()
                # Catch up: the latest run within the grace window fires once (setting the
                # same desired state several times in a row changes nothing); older runs are
                # skipped.
                fire_at = None
                window_start = now - GRACE
                if due >= window_start:
                    fire_at = due
                for run in timing.iter_runs(
                    trigger, max(due, window_start - dt.timedelta(seconds=1))
                ):
                    if run > now:
                        break
                    if run >= window_start:
                        fire_at = run
                fields: dict[str, Any] = {"next_run": timing.next_run(trigger, now)}
                if fire_at is None:
                    fields["last_result"] = {
                        "status": "skipped",
                        "reason": f"missed by more than {int(GRACE.total_seconds() // 60)} minutes",
                        "due": _iso(due),
                    }
                else:
                    fields["last_run"] = fire_at
                # Compare-and-set on the old next_run: exactly one runner wins the run.
                if not Schedule.objects.filter(pk=schedule.pk, next_run=due).update(**fields):
                    continue
                for name, value in fields.items():
                    setattr(schedule, name, value)
                claimed.append((schedule, fire_at))
        return claimed

    def _record(self, results: list[dict]) -> None:
        fired = [r for r in results if r.get("status") != "skipped"]
        if not fired:
            return
        with transaction.atomic():
            for result in fired:
                summary = {k: v for k, v in result.items() if k not in ("schedule", "pk")}
                Schedule.objects.filter(pk=result["pk"]).update(last_result=summary)

    def _fire(self, schedule: Schedule, fire_at: dt.datetime | None, now: dt.datetime) -> dict:
        if fire_at is None:
            return {"schedule": str(schedule.code), "pk": schedule.pk, **schedule.last_result}
        event = schedule.lambda_input()
        event["time"] = _iso(fire_at)
        try:
            result = self.handler(event, None, iot_data=self.iot_data, now=now)
        except Exception as exc:  # noqa: BLE001 - a crashing handler is recorded, not fatal
            log.exception("schedule %s failed", schedule.code)
            result = {
                "status": "failed",
                "error": f"{type(exc).__name__}: {exc}",
                "ok": [],
                "failed": [],
            }
        summary = {
            "status": result.get("status"),
            "fire_time": _iso(fire_at),
            "ok": result.get("ok", []),
            "failed": result.get("failed", []),
        }
        if result.get("error"):
            summary["error"] = result["error"]
        schedule.last_result = summary
        log.info(
            "schedule %s fired at %s: %s", schedule.code, summary["fire_time"], summary["status"]
        )
        return {"schedule": str(schedule.code), "pk": schedule.pk, **summary}

    def run_forever(self, interval: float = 1.0, mirror_every: float = 300.0) -> None:
        last_mirror = 0.0
        while True:
            started = time.monotonic()
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - keep the loop alive; the next tick retries
                log.exception("runner tick failed")
            if mirror_every and started - last_mirror >= mirror_every:
                last_mirror = started
                _maintain_mirrors()
            time.sleep(max(0.0, interval - (time.monotonic() - started)))


def _maintain_mirrors() -> None:
    try:
        repair_stalled_mirrors()
        outbox.flush()
    except Exception:  # noqa: BLE001 - the mirror is best effort here; reconcile repairs it
        log.warning("schedule mirror maintenance failed", exc_info=True)
