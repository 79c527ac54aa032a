"""E-mail through Amazon SES (API v2), with the client from the platform's one AWS factory."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage

from smartlight import aws

log = logging.getLogger(__name__)


class SESEmailBackend(BaseEmailBackend):
    """Sends each message as raw MIME, so attachments and headers arrive as Django built them."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        ses = aws.client("sesv2")
        sent = 0
        for message in email_messages:
            recipients = message.recipients()
            if not recipients:
                continue
            try:
                ses.send_email(
                    FromEmailAddress=message.from_email,
                    Destination={"ToAddresses": recipients},
                    Content={"Raw": {"Data": message.message().as_bytes(linesep="\r\n")}},
                )
            except Exception:
                log.exception("SES refused a message to %d recipients", len(recipients))
                if not self.fail_silently:
                    raise
                continue
            sent += 1
        return sent
