"""The JSON API at /api/v1 (django-ninja). Each app contributes a router.

Authentication and rate limits live in accounts/api_auth.py. Here the answers every operation
may give besides its own (401, 403, 404, 422, 429) are mapped once and documented once, and so
are the errors raised below the views (a light state the contract refuses, a light that never
connected): each class carries its status, which the portal's views read too
(devices/views.py), so a failure answers the same in both.
"""

from __future__ import annotations

import math
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, Throttled

from accounts.api_auth import BEARER_CHALLENGE, ApiTokenAuth, SessionAuth, StaleCsrfToken
from devices.shadow import ShadowError
from smartlight.contract import InvalidState
from smartlight.views import STALE_SESSION_HEADER

_ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
_VALIDATION_ERROR = {
    "type": "object",
    "properties": {
        "detail": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
                "required": ["loc", "msg"],
            },
        }
    },
    "required": ["detail"],
}


def _json(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


# Answers any operation may give, whatever its own responses.
COMMON_RESPONSES = {
    "400": _json("The request body is not JSON", _ERROR),
    "401": _json("Neither a valid API token nor a signed-in session", _ERROR),
    "403": _json("Below the needed role in that home, or a session request without CSRF",
                 _ERROR),
    "404": _json("No such object in the caller's homes", _ERROR),
    "422": _json("Bad input: each field and the reason", _VALIDATION_ERROR),
    "429": _json("Too many requests from this address or token; see Retry-After", _ERROR),
}
WRITE_RESPONSES = {
    "409": _json("The light's service refused the change (e.g. never connected)", _ERROR),
    "503": _json("The light service is unreachable right now", _ERROR),
}


class SmartLightAPI(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> dict:
        schema = super().get_openapi_schema(*args, **kwargs)
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for code, response in COMMON_RESPONSES.items():
                    responses.setdefault(code, response)
                if path.endswith(("/state", "/apply")):
                    for code, response in WRITE_RESPONSES.items():
                        responses.setdefault(code, response)
        return schema


api = SmartLightAPI(
    title="Smart Light API",
    version="1",
    urls_namespace="api",
    # Token first: a request with a valid token never needs the session's CSRF token.
    auth=[ApiTokenAuth(), SessionAuth()],
)


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = api.create_response(
        request,
        {"detail": "Authentication required: send Authorization: Bearer <API token>."},
        status=401,
    )
    response["WWW-Authenticate"] = BEARER_CHALLENGE
    return response


@api.exception_handler(StaleCsrfToken)
def stale_csrf_token(request: HttpRequest, exc: StaleCsrfToken) -> HttpResponse:
    # Marked like the portal's own form-token failure: the page offers to sign in again.
    response = api.create_response(request, {"detail": str(exc)}, status=403)
    response[STALE_SESSION_HEADER] = "1"
    return response


@api.exception_handler(Throttled)
def throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    response = api.create_response(request, {"detail": exc.message}, status=429)
    if exc.wait is not None:
        response["Retry-After"] = str(max(1, math.ceil(exc.wait)))
    return response


@api.exception_handler(InvalidState)
def invalid_state(request: HttpRequest, exc: InvalidState) -> HttpResponse:
    # ninja's own validation format, so a client reads one shape of 422 whoever found it.
    detail = [{"type": "value_error", "loc": ["body", "payload", e.field], "msg": e.reason}
              for e in exc.errors]
    return api.create_response(request, {"detail": detail}, status=exc.status)


@api.exception_handler(ShadowError)
def shadow_error(request: HttpRequest, exc: ShadowError) -> HttpResponse:
    return api.create_response(request, {"detail": exc.reason}, status=exc.status)


from devices.api import router as devices_router  # noqa: E402
from schedules.api import router as schedules_router  # noqa: E402

api.add_router("/", devices_router)
api.add_router("/schedules", schedules_router)
