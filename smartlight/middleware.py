"""Middleware that runs before the rest: the load balancer's health check and request ids."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from smartlight import logs, views

_REQUEST_ID = re.compile(r"\A[A-Za-z0-9=;._-]{1,128}\Z")


class HealthCheckMiddleware:
    """Answers GET/HEAD /healthz before anything reads the Host header.

    A load balancer's health checker addresses the instance by its private IP, which is not in
    ALLOWED_HOSTS; the answer carries no host-dependent content (no redirect, no link, no
    cookie), so skipping the host check for this one path exposes nothing.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == "/healthz" and request.method in ("GET", "HEAD"):
            return views.healthz(request)
        return self.get_response(request)


def _incoming_id(request: HttpRequest) -> str | None:
    # The load balancer's trace header (Root=1-...) ties our lines to its access log.
    for header in ("HTTP_X_REQUEST_ID", "HTTP_X_AMZN_TRACE_ID"):
        value = request.META.get(header, "")
        if value and _REQUEST_ID.match(value):
            return value
    return None


class RequestIdMiddleware:
    """Gives each request an id, puts it on every log line and answers it as X-Request-Id,
    and logs one line per request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = _incoming_id(request) or uuid.uuid4().hex
        token = logs.request_id.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-Id"] = request_id
            user = getattr(request, "user", None)
            logs.access.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "user_id": user.pk if user is not None and user.is_authenticated else None,
                },
            )
            return response
        finally:
            logs.request_id.reset(token)
