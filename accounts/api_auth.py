"""Authentication for the JSON API: the portal session, or a personal API token."""

from __future__ import annotations

from django.utils import timezone
from ninja.security import APIKeyCookie, HttpBearer

from accounts.models import ApiToken, hash_token


class SessionAuth(APIKeyCookie):
    """The signed-in portal session (CSRF-checked for unsafe methods)."""

    param_name = "sessionid"

    def __init__(self) -> None:
        from django.conf import settings

        self.param_name = settings.SESSION_COOKIE_NAME
        super().__init__(csrf=True)

    def authenticate(self, request, key):
        if request.user.is_authenticated:
            return request.user
        return None


class ApiTokenAuth(HttpBearer):
    """`Authorization: Bearer sl_...`: a personal token, looked up by its hash."""

    def authenticate(self, request, token: str):
        try:
            api_token = ApiToken.objects.select_related("user").get(token_hash=hash_token(token))
        except ApiToken.DoesNotExist:
            return None
        if not api_token.user.is_active:
            return None
        ApiToken.objects.filter(pk=api_token.pk).update(last_used=timezone.now())
        request.user = api_token.user
        return api_token.user
