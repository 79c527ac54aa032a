"""The JSON API at /api/v1 (django-ninja). Each app contributes a router.

Errors raised below the views are turned into responses here, once, with the status their class
carries; the portal's views read the same `status` (devices/views.py), so a failure answers the
same in both.
"""

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI

from accounts.api_auth import ApiTokenAuth, SessionAuth
from devices.shadow import ShadowError
from smartlight.contract import InvalidState

api = NinjaAPI(
    title="Smart Light API",
    version="1",
    urls_namespace="api",
    auth=[SessionAuth(), ApiTokenAuth()],
)


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
