from django.contrib import admin
from django.urls import include, path

from smartlight import views
from smartlight.api import api

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("manifest.webmanifest", views.manifest, name="manifest"),
    path("sw.js", views.service_worker, name="service_worker"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", api.urls),
    path("", include("accounts.urls")),
    path("", include("devices.urls")),
    path("schedules/", include("schedules.urls")),
]
