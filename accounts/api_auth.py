"""Authentication and rate limits for the JSON API: a personal API token, or the portal session.

A request that carries `Authorization: Bearer sl_...` is authenticated by the token alone and
needs no CSRF token (a browser cannot attach that header to a cross-site request). A request
authenticated by the session cookie keeps Django's CSRF check on unsafe methods. A request
that is neither answers 401 with `WWW-Authenticate: Bearer`.

Rate limits count in the database (accounts/ratelimit.py), so every worker process adds to the
same counters: per client address on every request, and per token on token requests. Over a
limit the answer is 429 with `Retry-After`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.utils import timezone
from ninja.errors import Throttled
from ninja.security import APIKeyCookie, HttpBearer
from ninja.throttling import BaseThrottle
from ninja.utils import check_csrf

from accounts import ratelimit
from accounts.models import ApiToken, hash_token

BEARER_CHALLENGE = 'Bearer realm="api"'


def client_address(request: HttpRequest) -> str:
    """The client's address as allauth sees it (TRUSTED_PROXY_COUNT proxies are stripped)."""
    from allauth.account.adapter import get_adapter

    try:
        return get_adapter(request).get_client_ip(request) or "unknown"
    except ImproperlyConfigured:
        # Fewer X-Forwarded-For entries than trusted proxies: not through the load balancer.
        return request.META.get("REMOTE_ADDR") or "unknown"


class _Throttle(BaseThrottle):
    """A ninja throttle over accounts.ratelimit; its rate is read from settings per request."""

    scope: str = ""
    setting: str = ""

    def ident(self, request: HttpRequest) -> str | None:
        raise NotImplementedError

    def allow_request(self, request: HttpRequest) -> bool:
        self._wait = None
        ident = self.ident(request)
        if ident is None:
            return True
        rate = ratelimit.Rate.parse(getattr(settings, self.setting))
        self._wait = ratelimit.hit(self.scope, ident, rate)
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait

    @classmethod
    def check(cls, request: HttpRequest) -> None:
        throttle = cls()
        if not throttle.allow_request(request):
            raise Throttled(wait=throttle.wait())


class AddressThrottle(_Throttle):
    scope = "api-address"
    setting = "API_RATE_PER_ADDRESS"

    def ident(self, request: HttpRequest) -> str | None:
        return client_address(request)


class TokenThrottle(_Throttle):
    scope = "api-token"
    setting = "API_RATE_PER_TOKEN"

    def ident(self, request: HttpRequest) -> str | None:
        token: ApiToken | None = getattr(request, "api_token", None)
        return None if token is None else str(token.pk)


class ApiTokenAuth(HttpBearer):
    """`Authorization: Bearer sl_...`: a personal token, looked up by its hash.

    The first of the API's authenticators, so every API request passes the per-address limit
    here, before any lookup.
    """

    def __call__(self, request: HttpRequest) -> Any:
        AddressThrottle.check(request)
        return super().__call__(request)

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        try:
            api_token = ApiToken.objects.select_related("user").get(token_hash=hash_token(token))
        except ApiToken.DoesNotExist:
            return None
        if not api_token.user.is_active:
            return None
        request.api_token = api_token
        TokenThrottle.check(request)
        ApiToken.objects.filter(pk=api_token.pk).update(last_used=timezone.now())
        request.user = api_token.user
        return api_token.user


class StaleCsrfToken(Exception):
    """A session request without the session's CSRF token (smartlight/api.py answers 403)."""


class SessionAuth(APIKeyCookie):
    """The signed-in portal session; unsafe methods need the CSRF token, as in the portal.

    Anonymous requests are not authenticated here (and so answer 401, not a CSRF 403).
    """

    param_name = "sessionid"

    def __init__(self) -> None:
        self.param_name = settings.SESSION_COOKIE_NAME
        super().__init__(csrf=True)

    def _get_key(self, request: HttpRequest) -> str | None:
        if not request.user.is_authenticated:
            return None
        if not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request):
            raise StaleCsrfToken("CSRF check failed: send the X-CSRFToken header.")
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if key and request.user.is_authenticated:
            return request.user
        return None
