"""Tenant scoping: which home a request acts in, and what its user may do there.

Every view and API endpoint reaches tenant rows through a helper that starts from
`memberships_of(user)` or the request's current membership, so objects of other homes answer 404.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest

from accounts.models import ApiToken, Home, Invitation, Membership, Role

# Where to go once an e-mail address is confirmed (read by accounts.adapters.AccountAdapter).
CONFIRMED_ADDRESS_NEXT = "after_address_confirmed"
SESSION_HOME_KEY = "home_code"


class NoHome(Http404):
    """The user belongs to no home at all; the portal sends them to create one."""


def memberships_of(user) -> list[Membership]:
    if not user.is_authenticated:
        return []
    return list(
        Membership.objects.filter(user=user).select_related("home").order_by("home__name", "id")
    )


def current_membership(request: HttpRequest) -> Membership | None:
    """The membership of the home the user last switched to (or their first home)."""
    if hasattr(request, "_membership_cache"):
        return request._membership_cache
    memberships = memberships_of(request.user)
    chosen = None
    wanted = request.session.get(SESSION_HOME_KEY) if hasattr(request, "session") else None
    if wanted:
        chosen = next((m for m in memberships if str(m.home.code) == wanted), None)
    if chosen is None and memberships:
        chosen = memberships[0]
    request._membership_cache = chosen
    request._memberships_cache = memberships
    return chosen


def require_membership(request: HttpRequest, role: str = Role.VIEWER) -> Membership:
    """The current membership, or 404 when there is none and 403 when the role is too low."""
    membership = current_membership(request)
    if membership is None:
        raise NoHome("No home")
    if not membership.can(role):
        raise PermissionDenied(f"This needs the {role} role in {membership.home.name}")
    return membership


def get_home_for_user(user, code, role: str = Role.VIEWER) -> tuple[Home, Membership]:
    """The home with this code if the user belongs to it (else 404), checking `role` (else 403)."""
    try:
        membership = Membership.objects.select_related("home").get(user=user, home__code=code)
    except (Membership.DoesNotExist, ValueError, TypeError, ValidationError) as exc:
        raise Http404("No such home") from exc
    if not membership.can(role):
        raise PermissionDenied(f"This needs the {role} role in {membership.home.name}")
    return membership.home, membership


def get_member_of_home(home: Home, code) -> Membership:
    """A membership of `home` by its public code (404 for any other home's membership)."""
    try:
        return Membership.objects.select_related("user", "home").get(home=home, code=code)
    except (Membership.DoesNotExist, ValueError, TypeError, ValidationError) as exc:
        raise Http404("No such member") from exc


def get_invitation_of_home(home: Home, code) -> Invitation:
    """An invitation of `home` by its code (404 for any other home's invitation)."""
    try:
        return Invitation.objects.select_related("home").get(home=home, code=code)
    except (Invitation.DoesNotExist, ValueError, TypeError, ValidationError) as exc:
        raise Http404("No such invitation") from exc


def get_invitation_by_link(code) -> Invitation:
    """The invitation an e-mailed link names. The code is the secret: whoever holds the link
    may see which home it opens, as with any invitation link."""
    try:
        return Invitation.objects.select_related("home", "invited_by").get(code=code)
    except (Invitation.DoesNotExist, ValueError, TypeError, ValidationError) as exc:
        raise Http404("No such invitation") from exc


def get_token_for_user(user, code) -> ApiToken:
    """One of the user's own API tokens (404 for anybody else's)."""
    try:
        return ApiToken.objects.get(user=user, code=code)
    except (ApiToken.DoesNotExist, ValueError, TypeError, ValidationError) as exc:
        raise Http404("No such token") from exc


def get_home_for_api(request: HttpRequest, code, role: str = Role.VIEWER) -> Home:
    """For the JSON API: the home named by `code` (404 unless the caller belongs to it), or the
    caller's current home when no code is given; 403 when the role is too low."""
    from ninja.errors import HttpError

    if code is not None:
        try:
            home, _ = get_home_for_user(request.auth, code, role)
        except PermissionDenied as exc:
            raise HttpError(403, str(exc)) from exc
        return home
    membership = current_membership(request)
    if membership is None:
        raise HttpError(404, "You are not a member of any home")
    if not membership.can(role):
        raise HttpError(403, f"This needs the {role} role in {membership.home.name}")
    return membership.home
