"""List drift between schedules in the database and their EventBridge mirror; --fix repairs it."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError
from django.core.management.base import BaseCommand, CommandError

from schedules import mirror
from schedules.models import MirrorOutbox, Schedule
from schedules.tasks import push_outbox_entry

PASSES = 5


class Command(BaseCommand):
    help = "Compare schedules with their EventBridge rules/schedules; --fix makes AWS match."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--fix", action="store_true", help="Repair the drift found.")

    def handle(self, *args, **options) -> None:
        drifting = self.find_drift()
        if options["fix"]:
            for _ in range(PASSES):
                if not drifting:
                    break
                for code in sorted(drifting):
                    try:
                        push_outbox_entry(code)
                    except (BotoCoreError, ClientError) as exc:
                        self.stderr.write(f"{code}: fix failed, will retry: {exc}")
                drifting = self.find_drift(quiet=True)
            for code in drifting:
                self.stdout.write(f"{code}: still drifting")
            self.stdout.write(f"fixed; {len(drifting)} still drifting")
        warning = mirror.quota_status()
        if warning:
            self.stderr.write(self.style.WARNING(warning))
        if drifting and not options["fix"]:
            self.stdout.write(f"{len(drifting)} drifting (run with --fix to repair)")
        elif not drifting:
            self.stdout.write("no drift")
        if drifting and options["fix"]:
            raise CommandError(f"{len(drifting)} schedules still drift after {PASSES} passes")

    def find_drift(self, quiet: bool = False) -> dict[str, str]:
        """{code: reason} for every schedule whose mirror differs, plus orphans in AWS and
        changes still waiting in the outbox."""
        try:
            codes = mirror.remote_codes()
        except (BotoCoreError, ClientError) as exc:
            raise CommandError(f"cannot list the mirror in AWS: {exc}") from exc
        codes |= {str(c) for c in Schedule.objects.values_list("code", flat=True)}
        codes |= {str(c) for c in MirrorOutbox.objects.values_list("code", flat=True)}
        found: dict[str, str] = {}
        for code in sorted(codes):
            try:
                reason = mirror.drift(code)
            except (BotoCoreError, ClientError) as exc:
                reason = f"could not read from AWS: {exc}"
            if reason:
                found[code] = reason
                if not quiet:
                    self.stdout.write(f"{code}: {reason}")
        return found
