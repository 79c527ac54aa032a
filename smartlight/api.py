"""The JSON API at /api/v1 (django-ninja). Each app contributes a router."""

from ninja import NinjaAPI

from accounts.api_auth import ApiTokenAuth, SessionAuth

api = NinjaAPI(
    title="Smart Light API",
    version="1",
    urls_namespace="api",
    auth=[SessionAuth(), ApiTokenAuth()],
)

from devices.api import router as devices_router  # noqa: E402
from schedules.api import router as schedules_router  # noqa: E402

api.add_router("/", devices_router)
api.add_router("/schedules", schedules_router)
