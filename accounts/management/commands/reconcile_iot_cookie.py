"""List drift between home membership and its iot_cookie mirror in DynamoDB; --fix repairs it."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError
from django.core.management.base import BaseCommand, CommandError

from accounts import iot_cookie
from accounts.models import IotCookieOutbox
from smartlight import outbox


class Command(BaseCommand):
    help = "Compare memberships with the iot_cookie DynamoDB table; --fix makes DynamoDB match."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--fix", action="store_true", help="Repair the drift found.")

    def handle(self, *args, **options) -> None:
        drifting = self.find_drift()
        if not drifting:
            self.stdout.write("no drift")
            return
        if not options["fix"]:
            self.stdout.write(f"{len(drifting)} drifting (run with --fix to repair)")
            return
        failed = 0
        for user_id in sorted(drifting):
            try:
                # Pushes what the database implies (put or delete) and clears the outbox row.
                outcome = outbox.push_entry(iot_cookie.MIRROR, user_id)
            except (BotoCoreError, ClientError) as exc:
                failed += 1
                self.stderr.write(f"{user_id}: fix failed: {exc}")
            else:
                self.stdout.write(f"{user_id}: {outcome}")
        still = self.find_drift(quiet=True)
        self.stdout.write(f"fixed {len(drifting) - len(still)}; {len(still)} still drifting")
        if still or failed:
            raise CommandError(f"{len(still)} iot_cookie items still drift")

    def find_drift(self, quiet: bool = False) -> dict[str, str]:
        """{user_id: reason} for each item that differs, is missing or is an orphan, plus
        changes still waiting in the outbox."""
        try:
            actual = iot_cookie.remote_items()
        except (BotoCoreError, ClientError) as exc:
            raise CommandError(f"cannot read the iot_cookie table: {exc}") from exc
        expected = iot_cookie.expected_items()
        found: dict[str, str] = {}
        for user_id in sorted(expected.keys() | actual.keys()):
            reason = iot_cookie.drift(expected.get(user_id), actual.get(user_id))
            if reason:
                found[user_id] = reason
        for user_id in IotCookieOutbox.objects.values_list("user_id", flat=True):
            found.setdefault(user_id, "change waiting in the outbox")
        if not quiet:
            for user_id, reason in sorted(found.items()):
                self.stdout.write(f"{user_id}: {reason}")
        return found
