"""The one module that reads and writes device shadows (docs/device-contract.md).

Every shadow call of the platform goes through here, over the boto3 `iot-data` client built by
`smartlight.aws.client` (AWS IoT Core's data plane, or localcloud's with an endpoint_url).
The desired document is validated against the light-state contract (smartlight/contract.py)
before anything is sent, so a bad request never reaches a light; AWS errors come back as the
exceptions below, each with the HTTP status every edge answers with.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from smartlight import aws, contract

log = logging.getLogger(__name__)

# Interactive changes (portal, API) fade in at most 60 s; the admin's re-push writes back what a
# schedule may have asked for, up to the device's 15 minutes (docs/device-contract.md).
MAX_TRANSITION_MS = contract.INTERACTIVE_MAX_TRANSITION_MS
FIRMWARE_MAX_TRANSITION_MS = contract.DEVICE_MAX_TRANSITION_MS
COMMANDS = ("identify", "reboot")

# Error codes AWS IoT's data plane answers when a caller goes too fast or it is briefly unwell
# ("Device Shadow service errors": 429 Too many requests, 500 internal, 503 unavailable).
_RETRYABLE = {
    "ThrottlingException",
    "TooManyRequestsException",
    "ServiceUnavailableException",
    "InternalFailureException",
}
RETRY_DELAYS = (0.05, 0.2, 0.5)


class ShadowError(Exception):
    """Base of every outcome that is not a written/read shadow.

    `status` is the HTTP status the portal and the API both answer with (smartlight/api.py,
    devices/views.py); `reason` is what the person is told.
    """

    status = 503
    reason = "The lights service is unreachable right now; nothing was changed."


class ShadowNotFound(ShadowError):
    """404 from AWS: the thing has no shadow yet, i.e. the light has never connected.

    409 Conflict to the caller: the light is in a state that cannot take the change yet, which
    retrying soon does not fix (503 would say the service is down).
    """

    status = 409
    reason = "This light has never connected, so it has no shadow yet; switch it on and try again."


class ShadowConflict(ShadowError):
    """409: the shadow's version moved on since the caller read it."""

    status = 409
    reason = "The light's state changed meanwhile; read it again and retry."


class ShadowUnavailable(ShadowError):
    """The data plane could not be reached, kept throttling, or refused the request."""


def _call(operation: str, **kwargs: Any) -> dict[str, Any]:
    """Call an iot-data operation, retrying throttling and mapping errors to outcomes."""
    client = aws.client("iot-data")
    attempt = 0
    while True:
        try:
            return getattr(client, operation)(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            message = error.get("Message") or code
            if status == 404 or code == "ResourceNotFoundException":
                raise ShadowNotFound(
                    f"{kwargs.get('thingName', '')} has no shadow: the light has never connected"
                ) from exc
            if status == 409 or code == "ConflictException":
                raise ShadowConflict(f"version conflict: {message}") from exc
            if (code in _RETRYABLE or status in {429, 500, 503}) and attempt < len(RETRY_DELAYS):
                delay = RETRY_DELAYS[attempt]
                attempt += 1
                log.info("iot-data %s throttled (%s), retry %d in %.2fs",
                         operation, code, attempt, delay)
                time.sleep(delay)
                continue
            raise ShadowUnavailable(f"{operation} failed: {code or status}: {message}") from exc
        except BotoCoreError as exc:
            # Connection refused, timeouts: the data plane is unreachable.
            raise ShadowUnavailable(f"{operation} failed: {exc}") from exc


def _payload(response: Mapping[str, Any]) -> dict[str, Any]:
    body = response.get("payload")
    raw = body.read() if hasattr(body, "read") else body
    return json.loads(raw) if raw else {}


def update_desired(
    thing: str,
    desired: Mapping[str, Any],
    reported: Mapping[str, Any] | None = None,
    *,
    version: int | None = None,
    client_token: str | None = None,
    max_transition_ms: int = MAX_TRANSITION_MS,
) -> dict[str, Any]:
    """Validate and write a partial desired state; returns the accepted document.

    The state is checked against the contract (smartlight/contract.py) with the effects of the
    light (`reported`); contract.InvalidState lists every bad field and nothing is sent.

    Only the given keys change (a shadow update merges). With `version`, AWS applies the update
    only if the shadow is still at that version, else ShadowConflict.
    """
    clean = contract.validate_desired(
        desired, max_transition_ms=max_transition_ms, effects=contract.effects_of(reported)
    )
    document: dict[str, Any] = {"state": {"desired": clean}}
    if version is not None:
        document["version"] = version
    if client_token is not None:
        document["clientToken"] = client_token
    response = _call(
        "update_thing_shadow",
        thingName=thing,
        payload=json.dumps(document, separators=(",", ":")).encode(),
    )
    return _payload(response)


def get_shadow(thing: str) -> dict[str, Any]:
    """The full classic shadow document; ShadowNotFound when the light never connected."""
    return _payload(_call("get_thing_shadow", thingName=thing))


def publish_cmd(thing: str, cmd: str) -> str:
    """Send a one-off command (not persisted in the shadow); returns the command id."""
    if cmd not in COMMANDS:
        raise contract.InvalidState(
            [contract.FieldError("cmd", f"must be one of {', '.join(COMMANDS)}")]
        )
    command_id = str(uuid.uuid4())
    _call(
        "publish",
        topic=f"smartlight/{thing}/cmd",
        qos=1,
        payload=json.dumps({"id": command_id, "cmd": cmd}).encode(),
    )
    return command_id
