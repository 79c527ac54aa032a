from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    pass


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def populate_user(self, request, sociallogin, data):
        user = super().populate_user(request, sociallogin, data)
        if sociallogin.account.provider == "amazon_cognito":
            # The Cognito `sub` is the user's stable id in the iot_cookie mirror.
            sub = sociallogin.account.uid or sociallogin.account.extra_data.get("sub")
            if sub:
                user.iot_user_id = sub
        return user
