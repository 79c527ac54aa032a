"""Pre-provisioning hook of the fleet provisioning template: admits only lights the platform made.

AWS IoT calls it before RegisterThing applies the template, with
    {"claimCertificateId", "certificateId", "certificatePem", "templateArn", "clientId",
     "parameters": {"SerialNumber": "..."}}
and provisions the light only if it answers `{"allowProvisioning": true}`.

A serial is admitted iff the DynamoDB table `SERIALS_TABLE` (partition key `serial`, written by
the platform's `provision_batch`) has an item for it whose status is not `blocked`. Anything
else, including a malformed serial or a table that cannot be read, is refused: a hook that
fails open would let any holder of a claim certificate create things.

Runs in AWS Lambda with nothing but boto3; localcloud calls it in its own process.
`handler(event, context, dynamodb=...)` takes an injected client for tests.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

SERIAL_RE = re.compile(r"\A[0-9a-f]{12}\Z")

log = logging.getLogger("provisioning_hook")
log.setLevel(logging.INFO)

_client: Any = None


def _dynamodb() -> Any:
    global _client
    if _client is None:
        import boto3

        _client = boto3.client("dynamodb")
    return _client


def handler(event: dict[str, Any], context: Any, dynamodb: Any = None) -> dict[str, bool]:
    parameters = event.get("parameters") if isinstance(event, dict) else None
    serial = parameters.get("SerialNumber") if isinstance(parameters, dict) else None
    if not isinstance(serial, str) or not SERIAL_RE.match(serial):
        log.warning("refused: serial %r is not 12 lowercase hex characters", serial)
        return {"allowProvisioning": False}
    table = os.environ.get("SERIALS_TABLE", "smartlight-serials")
    client = dynamodb or _dynamodb()
    try:
        item = client.get_item(TableName=table, Key={"serial": {"S": serial}},
                               ConsistentRead=True).get("Item")
    except Exception:
        log.exception("refused %s: reading %s failed", serial, table)
        return {"allowProvisioning": False}
    if item is None:
        log.warning("refused %s: not a serial the platform made", serial)
        return {"allowProvisioning": False}
    status = item.get("status", {}).get("S")
    if status == "blocked":
        log.warning("refused %s: blocked", serial)
        return {"allowProvisioning": False}
    log.info("admitted %s (status %s, claim certificate %s)", serial, status,
             event.get("claimCertificateId"))
    return {"allowProvisioning": True}
