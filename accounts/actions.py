"""Multi-step changes to homes, memberships, invitations and tokens.

Each action runs in one `transaction.atomic()` and either makes its whole change or raises
`ActionError` (a message for the person) and changes nothing. Side effects that leave the
database (mail, the iot_cookie mirror) are scheduled with `transaction.on_commit`, so a
rolled-back change sends nothing; membership changes also record the stale iot_cookie items in
the same transaction (docs/architecture.md, "Mirrors to AWS").
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.mail import BadHeaderError, EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from accounts import hooks, iot_cookie
from accounts.models import ApiToken, Home, Invitation, Membership, Role, User

log = logging.getLogger(__name__)

COGNITO_PROVIDER = "amazon_cognito"


class ActionError(Exception):
    """A refused change. `str(error)` is a message fit to show the person who asked."""


class AddressNotVerified(ActionError):
    """The invited address is the user's, but they have not confirmed it yet."""


# --- homes ------------------------------------------------------------------------------------


def do_create_home(user: User, name: str, timezone: str = "UTC") -> Home:
    with transaction.atomic():
        home = Home.objects.create(name=name, timezone=timezone)
        Membership.objects.create(user=user, home=home, role=Role.OWNER)
        iot_cookie.mark_user(user)
    return home


def ensure_own_home(user: User) -> Home | None:
    """A user's first sign-in creates their own home; later sign-ins change nothing.

    "First" is judged by membership rather than by `last_login`: a user who has no home at all
    (never had one, or left every home) gets one, so nobody signs in to a portal with nothing
    in it.
    """
    if Membership.objects.filter(user=user).exists():
        return None
    local = user.email.split("@", 1)[0] if user.email else "My"
    return do_create_home(user, f"{local}'s home")


def do_update_home(
    home: Home,
    *,
    name: str,
    timezone: str,
    latitude: float | None,
    longitude: float | None,
) -> Home:
    """Saves validated settings (the form checks the zone and the coordinate ranges)."""
    if (latitude is None) != (longitude is None):
        raise ActionError("Give both latitude and longitude, or neither.")
    if latitude is None and home.has_location:
        reasons = hooks.location_needed(home)
        if reasons:
            raise ActionError(" ".join(reasons))
    home.name = name
    home.timezone = timezone
    home.latitude = latitude
    home.longitude = longitude
    home.full_clean()
    with transaction.atomic():
        before = Home.objects.filter(pk=home.pk).values(
            "name", "timezone", "latitude", "longitude"
        ).get()
        home.save(update_fields=["name", "timezone", "latitude", "longitude"])
        if before["name"] != name:
            # Items carry the home's name.
            iot_cookie.mark_home(home)
        if (before["timezone"], before["latitude"], before["longitude"]) != (
            timezone, latitude, longitude
        ):
            # Whatever runs in the home's clock and sun (schedules) moves with it.
            hooks.home_clock_changed(home)
    return home


# --- members ----------------------------------------------------------------------------------


def _lock_for_owner_check(membership: Membership) -> tuple[Membership, int]:
    """Locks the home's owner rows, then re-reads `membership`; returns it with the number of
    owners (call inside atomic).

    The owner rows are locked first and always in primary-key order, which serialises
    concurrent demotions/removals (PostgreSQL) without deadlocks: two owners demoting each
    other at once cannot leave the home without an owner.
    """
    owners = list(
        Membership.objects.select_for_update()
        .filter(home_id=membership.home_id, role=Role.OWNER)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    membership = Membership.objects.select_related("home", "user").get(pk=membership.pk)
    return membership, len(owners)


def _refuse_if_last_owner(membership: Membership, owners: int, doing: str) -> None:
    if membership.role == Role.OWNER and owners <= 1:
        raise ActionError(
            f"{membership.user.email} is the last owner of {membership.home.name} and cannot "
            f"{doing}. Make another member an owner first."
        )


def do_change_role(membership: Membership, role: str) -> Membership:
    if role not in Role.values:
        raise ActionError(f"Unknown role {role!r}: choose owner, member or viewer.")
    with transaction.atomic():
        membership, owners = _lock_for_owner_check(membership)
        if membership.role == role:
            return membership
        if role != Role.OWNER:
            _refuse_if_last_owner(membership, owners, "be demoted")
        membership.role = role
        membership.save(update_fields=["role"])
        iot_cookie.mark_user(membership.user)
    return membership


def do_remove_member(membership: Membership) -> None:
    with transaction.atomic():
        membership, owners = _lock_for_owner_check(membership)
        _refuse_if_last_owner(membership, owners, "be removed")
        membership.delete()
        iot_cookie.mark_user(membership.user)


def do_leave_home(membership: Membership) -> None:
    with transaction.atomic():
        membership, owners = _lock_for_owner_check(membership)
        _refuse_if_last_owner(membership, owners, "leave")
        membership.delete()
        iot_cookie.mark_user(membership.user)


# --- invitations ------------------------------------------------------------------------------


def do_invite_member(
    home: Home,
    invited_by: User,
    email: str,
    role: str,
    accept_url: Callable[[Invitation], str],
) -> Invitation:
    """Creates an invitation and, once committed, mails its absolute accept link.

    `accept_url(invitation)` builds the link (the view knows the request's scheme and host).
    """
    email = User.objects.normalize_email(email).strip().lower()
    if role not in Role.values:
        raise ActionError(f"Unknown role {role!r}: choose owner, member or viewer.")
    if Membership.objects.filter(home=home, user__email__iexact=email).exists():
        raise ActionError(f"{email} is already a member of {home.name}.")
    try:
        with transaction.atomic():
            open_invites = Invitation.objects.select_for_update().filter(
                home=home, email__iexact=email, accepted__isnull=True
            )
            for invite in open_invites:
                if not invite.is_expired:
                    raise ActionError(
                        f"{email} already has an open invitation to {home.name} "
                        f"(valid until {invite.expires:%Y-%m-%d %H:%M} UTC)."
                    )
                # An expired link is dead anyway; the new invitation replaces it.
                invite.delete()
            invitation = Invitation.objects.create(
                home=home, email=email, role=role, invited_by=invited_by
            )
            message = _invitation_mail(invitation, accept_url(invitation))
            transaction.on_commit(lambda: _send_or_withdraw(invitation, message))
    except IntegrityError as exc:
        # The partial unique constraint caught a concurrent duplicate.
        raise ActionError(f"{email} already has an open invitation to {home.name}.") from exc
    return invitation


def _invitation_mail(invitation: Invitation, link: str) -> EmailMessage:
    context = {"invitation": invitation, "home": invitation.home, "link": link}
    subject = render_to_string("accounts/email/invitation_subject.txt", context)
    # A header is one line: whatever whitespace a home's name holds becomes single spaces.
    subject = " ".join(subject.split())
    body = render_to_string("accounts/email/invitation_body.txt", context)
    return EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [invitation.email])


def _send_or_withdraw(invitation: Invitation, message: EmailMessage) -> None:
    """Sends the committed invitation's mail; if it cannot go out, the invitation goes too,
    so no link exists that nobody received."""
    try:
        message.send()
    except (BadHeaderError, OSError, ValueError) as exc:
        log.warning("invitation mail to %s failed: %s", invitation.email, exc)
        Invitation.objects.filter(pk=invitation.pk).delete()
        raise ActionError(
            f"The invitation mail to {invitation.email} could not be sent, so no invitation "
            "was made. Try again in a moment."
        ) from exc


def do_revoke_invitation(invitation: Invitation) -> None:
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.accepted is not None:
            raise ActionError("This invitation was already accepted; remove the member instead.")
        invitation.delete()


def invited_address_state(invitation: Invitation, user: User) -> str:
    """"verified", "unverified" (the user's, not confirmed yet) or "other" (not theirs)."""
    from allauth.account.models import EmailAddress

    addresses = EmailAddress.objects.filter(user=user, email__iexact=invitation.email)
    if addresses.filter(verified=True).exists():
        return "verified"
    if addresses.exists() or user.email.lower() == invitation.email.lower():
        return "unverified"
    return "other"


def do_accept_invitation(invitation: Invitation, user: User) -> Membership:
    """Single use, valid for INVITATION_TTL, for the invited address only.

    The accepting account must hold the invited address, confirmed: holding the link alone
    (forwarded, leaked) is not enough.
    """
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update().select_related("home").get(pk=invitation.pk)
        )
        if invitation.accepted is not None:
            raise ActionError("This invitation was already used. Ask an owner for a new one.")
        if invitation.is_expired:
            raise ActionError("This invitation has expired. Ask an owner for a new one.")
        if Membership.objects.filter(home=invitation.home, user=user).exists():
            raise ActionError(f"You are already a member of {invitation.home.name}.")
        address = invited_address_state(invitation, user)
        if address == "other":
            raise ActionError(
                f"This invitation is for {invitation.email}, and you are signed in as "
                f"{user.email}. Sign in with {invitation.email} to accept it, or ask an owner "
                "to invite this address."
            )
        if address == "unverified":
            raise AddressNotVerified(
                f"Confirm that {invitation.email} is yours first: we send a link to it."
            )
        membership = Membership.objects.create(
            user=user, home=invitation.home, role=invitation.role
        )
        invitation.accepted = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted", "accepted_by"])
        iot_cookie.mark_user(user)
    return membership


# --- API tokens -------------------------------------------------------------------------------


def do_send_address_confirmation(request, user: User, email: str) -> None:
    """Mails allauth's confirmation link for `email`, one of the user's addresses."""
    from allauth.account.models import EmailAddress

    address = EmailAddress.objects.filter(user=user, email__iexact=email).first()
    if address is None:
        if user.email.lower() != email.lower():
            raise ActionError(f"{email} is not an address of your account.")
        address = EmailAddress.objects.create(
            user=user,
            email=user.email,
            primary=not EmailAddress.objects.filter(user=user, primary=True).exists(),
            verified=False,
        )
    address.send_confirmation(request)


def do_create_api_token(user: User, name: str) -> tuple[ApiToken, str]:
    name = name.strip()
    if not name:
        raise ActionError("Give the token a name, e.g. the script that will use it.")
    with transaction.atomic():
        return ApiToken.issue(user, name)


def do_revoke_api_token(token: ApiToken) -> None:
    with transaction.atomic():
        ApiToken.objects.filter(pk=token.pk).delete()


# --- Cognito identity -------------------------------------------------------------------------


def do_adopt_cognito_sub(user: User, sub: str) -> bool:
    """Makes the Cognito `sub` the user's `iot_user_id` (True when it changed).

    Decision: a local user who links Cognito takes the `sub` as `iot_user_id`, so the
    iot_cookie item is found under the same id whichever way the person signs in
    (docs/decisions.md). Refused, with a log line, when another user already holds that id.
    """
    if not sub or user.iot_user_id == sub:
        return False
    with transaction.atomic():
        if User.objects.filter(iot_user_id=sub).exclude(pk=user.pk).exists():
            log.warning("Cognito sub %s already belongs to another user; not adopted", sub)
            return False
        old = user.iot_user_id
        user.iot_user_id = sub
        user.save(update_fields=["iot_user_id"])
        # The item moves: the old key is deleted, the new one written.
        iot_cookie.mark_users([old, sub])
    return True


def sync_iot_user_id(user: User) -> bool:
    """Adopts the sub of the user's linked Cognito account, if there is one."""
    from allauth.socialaccount.models import SocialAccount

    uid = (
        SocialAccount.objects.filter(user=user, provider=COGNITO_PROVIDER)
        .order_by("pk")
        .values_list("uid", flat=True)
        .first()
    )
    return do_adopt_cognito_sub(user, uid) if uid else False
