"""List drift between schedules in the database and their EventBridge mirror; --fix repairs it."""

from __future__ import annotations

import time

from botocore.exceptions import BotoCoreError, ClientError
from django.core.management.base import BaseCommand, CommandError

from schedules import mirror
from schedules.actions import MIRROR
from schedules.models import MirrorOutbox, Schedule
from smartlight import outbox

AWS_ERRORS = (BotoCoreError, ClientError)


class Command(BaseCommand):
    help = "Compare schedules with their EventBridge rules/schedules; --fix makes AWS match."

    # Transient AWS errors (throttling, 5xx) are retried with exponential backoff: reads
    # before a mirror is called unknown, push-and-verify rounds before it is given up. A push
    # reads the mirror and writes what differs (up to four calls that must all succeed).
    read_attempts = 5
    fix_attempts = 60
    backoff_base = 0.05  # seconds; doubled per attempt, capped at 2 s

    def add_arguments(self, parser) -> None:
        parser.add_argument("--fix", action="store_true", help="Repair the drift found.")

    def handle(self, *args, **options) -> None:
        drifting = self.find_drift()
        for code, reason in sorted(drifting.items()):
            self.stdout.write(f"{code}: {reason}")
        if options["fix"] and drifting:
            remaining = {}
            for code in sorted(drifting):
                reason = self.fix(code)
                if reason:
                    remaining[code] = reason
                    self.stdout.write(f"{code}: still drifting: {reason}")
            self.stdout.write(f"fixed {len(drifting) - len(remaining)} of {len(drifting)}")
            drifting = remaining
        warning = mirror.quota_status()
        if warning:
            self.stderr.write(self.style.WARNING(warning))
        if not drifting:
            self.stdout.write("no drift")
        elif options["fix"]:
            raise CommandError(f"{len(drifting)} schedules still drift")
        else:
            self.stdout.write(f"{len(drifting)} drifting (run with --fix to repair)")

    def _pause(self, attempt: int) -> None:
        if self.backoff_base:
            time.sleep(min(2.0, self.backoff_base * 2**attempt))

    def _retrying(self, fn, *args):
        for attempt in range(self.read_attempts):
            try:
                return fn(*args)
            except AWS_ERRORS:
                if attempt == self.read_attempts - 1:
                    raise
                self._pause(attempt)
        raise AssertionError("unreachable")

    def drift_of(self, code: str) -> str | None:
        try:
            return self._retrying(mirror.drift, code)
        except AWS_ERRORS as exc:
            return f"could not read from AWS: {exc}"

    def fix(self, code: str) -> str | None:
        """Push and verify until AWS matches; the reason it still differs, or None."""
        reason: str | None = "not pushed"
        for attempt in range(self.fix_attempts):
            try:
                outbox.push_entry(MIRROR, code)
            except AWS_ERRORS as exc:
                reason = f"push failed: {exc}"
                self._pause(attempt)
                continue
            reason = self.drift_of(code)
            if reason is None:
                return None
            self._pause(attempt)
        return reason

    def find_drift(self) -> dict[str, str]:
        """{code: reason} for every schedule whose mirror differs or is unreadable, orphans in
        AWS, and changes still waiting in the outbox."""
        try:
            codes = self._retrying(mirror.remote_codes)
        except AWS_ERRORS as exc:
            raise CommandError(f"cannot list the mirror in AWS: {exc}") from exc
        codes |= {str(c) for c in Schedule.objects.values_list("code", flat=True)}
        pending = {str(c) for c in MirrorOutbox.objects.values_list("code", flat=True)}
        found: dict[str, str] = {}
        for code in sorted(codes | pending):
            reason = self.drift_of(code)
            if reason is None and code in pending:
                reason = "change waiting in the outbox"
            if reason:
                found[code] = reason
        return found
