"""Fire due schedules locally by calling the schedule Lambda's handler in-process."""

from __future__ import annotations

import contextlib
import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError

from schedules.runner import Runner


class Command(BaseCommand):
    help = "Fire due schedules through lambda/schedule_handler.py (locally, for EventBridge)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="Run one tick and exit.")
        parser.add_argument(
            "--now", help="With --once: the current time, ISO 8601 with offset (for tests)."
        )
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between ticks.")
        parser.add_argument(
            "--mirror-every",
            type=float,
            default=300.0,
            help="Seconds between EventBridge mirror upkeep (re-point, flush the outbox); 0 = off.",
        )

    def handle(self, *args, **options) -> None:
        clock = None
        if options["now"]:
            if not options["once"]:
                raise CommandError("--now only goes with --once")
            try:
                fixed = dt.datetime.fromisoformat(options["now"].replace("Z", "+00:00"))
            except ValueError as exc:
                raise CommandError(f"--now {options['now']!r} is not ISO 8601") from exc
            if fixed.tzinfo is None:
                raise CommandError("--now needs a UTC offset, e.g. 2026-03-29T05:00:00+00:00")
            clock = lambda: fixed  # noqa: E731
        runner = Runner(clock=clock) if clock else Runner()
        if options["once"]:
            for result in runner.tick():
                self.stdout.write(json.dumps(result, sort_keys=True))
            return
        self.stdout.write("run_schedules: firing due schedules (Ctrl-C to stop)")
        with contextlib.suppress(KeyboardInterrupt):
            runner.run_forever(interval=options["interval"], mirror_every=options["mirror_every"])
