"""The one module that reads and writes device shadows (DESIGN section 4).

Every shadow call of the platform goes through here, over the boto3 `iot-data` client built by
`smartlight.aws.client` (AWS IoT Core's data plane, or localcloud's with an endpoint_url).
The desired document is validated against the device contract before anything is sent, so a
bad request never reaches a light; AWS errors come back as the exceptions below.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from smartlight import aws

log = logging.getLogger(__name__)

# The contract's desired keys (DESIGN section 4, "Shadow state").
DESIRED_KEYS = ("on", "brightness", "color", "effect", "speed", "transition_ms")
ALWAYS_AVAILABLE_EFFECT = "solid"
COLOR_RE = re.compile(r"^#[0-9a-f]{6}$")
_INT_RANGES = {"brightness": (0, 255), "speed": (0, 255)}
# DESIGN section 4: an interactive change fades in at most 60 s. Schedules may ask the firmware
# for up to 15 minutes (a wake-up fade, schedules/actions.py), so a desired state already in
# the shadow may carry more; re-writing it (the admin's re-push) allows that.
MAX_TRANSITION_MS = 60000
FIRMWARE_MAX_TRANSITION_MS = 900000
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
    """Base of every outcome that is not a written/read shadow."""


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class InvalidDesired(ShadowError, ValueError):
    """The desired document breaks the contract; nothing was sent."""

    def __init__(self, errors: Iterable[FieldError]):
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))


class ShadowNotFound(ShadowError):
    """404: the thing has no shadow yet, i.e. the light has never connected."""


class ShadowConflict(ShadowError):
    """409: the shadow's version moved on since the caller read it."""


class ShadowUnavailable(ShadowError):
    """The data plane could not be reached, kept throttling, or refused the request."""


def _effects_allowed(reported: Mapping[str, Any] | None) -> set[str]:
    effects = (reported or {}).get("effects")
    allowed = {ALWAYS_AVAILABLE_EFFECT}
    if isinstance(effects, list):
        allowed.update(e for e in effects if isinstance(e, str))
    return allowed


def validate_desired(
    desired: Any,
    reported: Mapping[str, Any] | None = None,
    *,
    max_transition_ms: int = MAX_TRANSITION_MS,
) -> dict[str, Any]:
    """Check a partial desired document against the contract and return its clean copy.

    `reported` is the device's last reported state: an effect must be one it announced in
    `reported.effects` ("solid" always exists). A colour given as upper case "#RRGGBB" is
    lowered, since the contract's form is lower case; everything else must already be exact.
    Raises InvalidDesired listing every bad field; nothing is sent then.
    """
    if not isinstance(desired, Mapping):
        raise InvalidDesired([FieldError("desired", "must be an object of state keys")])
    if not desired:
        raise InvalidDesired([FieldError("desired", "names nothing to change")])
    errors: list[FieldError] = []
    clean: dict[str, Any] = {}
    for key, value in desired.items():
        if key not in DESIRED_KEYS:
            errors.append(
                FieldError(str(key), f"is not a desired key (allowed: {', '.join(DESIRED_KEYS)})")
            )
        elif key == "on":
            if isinstance(value, bool):
                clean[key] = value
            else:
                errors.append(FieldError(key, "must be true or false"))
        elif key in _INT_RANGES or key == "transition_ms":
            low, high = _INT_RANGES.get(key, (0, max_transition_ms))
            # bool is an int in Python but not in the contract's JSON.
            if isinstance(value, bool) or not isinstance(value, int):
                errors.append(FieldError(key, f"must be a whole number from {low} to {high}"))
            elif not low <= value <= high:
                errors.append(FieldError(key, f"must be from {low} to {high}, got {value}"))
            else:
                clean[key] = value
        elif key == "color":
            if isinstance(value, str) and COLOR_RE.match(value.lower()):
                clean[key] = value.lower()
            else:
                errors.append(FieldError(key, f'must be "#rrggbb" hex, got {value!r}'))
        elif key == "effect":
            allowed = _effects_allowed(reported)
            if isinstance(value, str) and value in allowed:
                clean[key] = value
            else:
                errors.append(
                    FieldError(
                        key,
                        f"{value!r} is not an effect of this light "
                        f"(available: {', '.join(sorted(allowed))})",
                    )
                )
    if errors:
        raise InvalidDesired(errors)
    return clean


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

    Only the given keys change (a shadow update merges). With `version`, AWS applies the update
    only if the shadow is still at that version, else ShadowConflict.
    """
    clean = validate_desired(desired, reported, max_transition_ms=max_transition_ms)
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
        raise InvalidDesired([FieldError("cmd", f"must be one of {', '.join(COMMANDS)}")])
    command_id = str(uuid.uuid4())
    _call(
        "publish",
        topic=f"smartlight/{thing}/cmd",
        qos=1,
        payload=json.dumps({"id": command_id, "cmd": cmd}).encode(),
    )
    return command_id
