"""The local schedule runner: fires due schedules through the schedule Lambda's own handler.

In AWS, EventBridge invokes the Lambda; locally (and in tests) `manage.py run_schedules` does the
same in-process against the configured iot-data endpoint (localcloud).

Each due run is claimed before it fires: in one transaction the row is locked (`SELECT ... FOR
UPDATE SKIP LOCKED` where the database has it, so a second runner passes over it instead of
waiting) and `next_run` is moved on with a compare-and-set on its old value, which is what
makes SQLite (no row locks, but serialised writes) safe too. A run is therefore fired at most
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

    def due_ids(self, now: dt.datetime) -> list[int]:
        # Served by the index on next_run: a range scan of the due rows only.
        return list(
            Schedule.objects.filter(next_run__lte=now, enabled=True)
            .order_by("next_run")
            .values_list("id", flat=True)[:BATCH]
        )

    def tick(self) -> list[dict]:
        """Fire every run due now. Returns one result per schedule handled."""
        now = self.clock()
        results = []
        for pk in self.due_ids(now):
            claimed = self._claim(pk, now)
            if claimed is None:
                continue
            schedule, fire_at = claimed
            results.append(self._fire(schedule, fire_at, now))
        return results

    def _claim(self, pk: int, now: dt.datetime) -> tuple[Schedule, dt.datetime | None] | None:
        with transaction.atomic():
            rows = Schedule.objects.filter(pk=pk, enabled=True, next_run__lte=now)
            if connection.features.has_select_for_update_skip_locked:
                rows = rows.select_for_update(skip_locked=True, of=("self",))
            schedule = rows.select_related("home", "scene").first()
            if schedule is None:
                return None
            due = schedule.next_run
            assert due is not None
            trigger = schedule.as_trigger()
            # Catch up: the latest run within the grace window fires once (setting the same
            # desired state several times in a row changes nothing); older ones are skipped.
            fire_at = None
            window_start = now - GRACE
            if due >= window_start:
                fire_at = due
            for run in timing.iter_runs(trigger, max(due, window_start - dt.timedelta(seconds=1))):
                if run > now:
                    break
                if run >= window_start:
                    fire_at = run
            following = timing.next_run(trigger, now)
            fields: dict[str, Any] = {"next_run": following}
            if fire_at is None:
                fields["last_result"] = {
                    "status": "skipped",
                    "reason": f"missed by more than {int(GRACE.total_seconds() // 60)} minutes",
                    "due": _iso(due),
                }
            else:
                fields["last_run"] = fire_at
            won = Schedule.objects.filter(pk=pk, next_run=due).update(**fields)
            if not won:
                return None
        for name, value in fields.items():
            setattr(schedule, name, value)
        return schedule, fire_at

    def _fire(self, schedule: Schedule, fire_at: dt.datetime | None, now: dt.datetime) -> dict:
        if fire_at is None:
            return {"schedule": str(schedule.code), **schedule.last_result}
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
        Schedule.objects.filter(pk=schedule.pk).update(last_result=summary)
        schedule.last_result = summary
        log.info(
            "schedule %s fired at %s: %s", schedule.code, summary["fire_time"], summary["status"]
        )
        return {"schedule": str(schedule.code), **summary}

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
    from schedules.tasks import flush_schedule_outbox, repoint_schedule_mirrors

    try:
        repoint_schedule_mirrors()
        flush_schedule_outbox()
    except Exception:  # noqa: BLE001 - the mirror is best effort here; reconcile repairs it
        log.warning("schedule mirror maintenance failed", exc_info=True)
