"""allauth hooks: every sign-in lands the user in a home, Cognito users keep their `sub`."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.http import Http404, HttpRequest

from accounts.actions import COGNITO_PROVIDER, ensure_own_home, sync_iot_user_id


class AccountAdapter(DefaultAccountAdapter):
    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials) -> str:
        # allauth counts failed sign-ins per this key ("/key" in ACCOUNT_RATE_LIMITS). Keyed by
        # the account alone, anyone could lock a person out by failing on purpose; keyed by
        # (account, address), a guesser only locks out their own address.
        from accounts.api_auth import client_address

        account = super()._get_login_attempts_cache_key(request, **credentials)
        return f"{account}|{client_address(request)}"

    def get_email_verification_redirect_url(self, email_address) -> str:
        # An invitee who confirmed their address from the invitation page goes back to it.
        from accounts.access import CONFIRMED_ADDRESS_NEXT

        next_url = self.request.session.pop(CONFIRMED_ADDRESS_NEXT, None)
        return next_url or super().get_email_verification_redirect_url(email_address)

    def login(self, request: HttpRequest, user) -> None:
        # Every sign-in goes through here: local sign-in, local sign-up, Cognito sign-in and
        # Cognito sign-up. Called explicitly (no signal), as the business rules are ours.
        super().login(request, user)
        sync_iot_user_id(user)
        ensure_own_home(user)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def get_app(self, request: HttpRequest, provider, client_id=None):
        # Without COGNITO_* settings there is no Cognito app: its sign-in URLs do not exist.
        from allauth.socialaccount.models import SocialApp

        try:
            return super().get_app(request, provider, client_id=client_id)
        except SocialApp.DoesNotExist as exc:
            raise Http404(f"Sign-in with {provider} is not configured here.") from exc

    def populate_user(self, request: HttpRequest, sociallogin, data):
        user = super().populate_user(request, sociallogin, data)
        if sociallogin.account.provider == COGNITO_PROVIDER:
            # The Cognito `sub` is the user's stable id in the iot_cookie mirror.
            sub = sociallogin.account.uid or sociallogin.account.extra_data.get("sub")
            if sub:
                user.iot_user_id = sub
        return user

    def get_connect_redirect_url(self, request: HttpRequest, socialaccount) -> str:
        # allauth 65 calls this right after a connect attempt and has no other adapter hook
        # there. When a signed-in local user has just linked Cognito, adopt the `sub` now
        # rather than at their next sign-in (see actions.do_adopt_cognito_sub).
        if (
            socialaccount.provider == COGNITO_PROVIDER
            and socialaccount.pk is not None
            and request.user.is_authenticated
            and socialaccount.user_id == request.user.pk
        ):
            sync_iot_user_id(request.user)
        return super().get_connect_redirect_url(request, socialaccount)
