"""Portal pages for homes, members, invitations and personal API tokens.

Thin views: fetch through the scoped helpers in accounts.access (404 outside the user's homes,
403 below the needed role), call an action, answer. Forms post normally and, with htmx, swap
only `#main` (the same page, so everything works without JavaScript too).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import actions
from accounts.access import (
    CONFIRMED_ADDRESS_NEXT,
    SESSION_HOME_KEY,
    get_home_for_user,
    get_invitation_by_link,
    get_invitation_of_home,
    get_member_of_home,
    get_token_for_user,
)
from accounts.forms import (
    ApiTokenForm,
    HomeSettingsForm,
    InvitationForm,
    NewHomeForm,
    RoleForm,
)
from accounts.models import Invitation, Membership, Role


def _form_errors(form) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


@login_required
@require_POST
def switch_home(request: HttpRequest) -> HttpResponse:
    home, _ = get_home_for_user(request.user, request.POST.get("home"))
    request.session[SESSION_HOME_KEY] = str(home.code)
    return redirect("dashboard")


@login_required
@require_http_methods(["GET", "POST"])
def home_new(request: HttpRequest) -> HttpResponse:
    form = NewHomeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        home = actions.do_create_home(
            request.user, form.cleaned_data["name"], form.cleaned_data["timezone"]
        )
        request.session[SESSION_HOME_KEY] = str(home.code)
        messages.success(request, f"{home.name} is ready. You are its owner.")
        return redirect("dashboard")
    return render(request, "accounts/home_new.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def home_settings(request: HttpRequest, code) -> HttpResponse:
    home, membership = get_home_for_user(request.user, code, Role.OWNER)
    initial = {
        "name": home.name,
        "timezone": home.timezone,
        "latitude": home.latitude,
        "longitude": home.longitude,
    }
    form = HomeSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if form.is_valid():
            try:
                actions.do_update_home(home, **form.cleaned_data)
            except actions.ActionError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, "Home settings saved.")
                return redirect("home_settings", code=home.code)
        home.refresh_from_db()
    return render(
        request,
        "accounts/home_settings.html",
        {"home": home, "membership": membership, "form": form},
        status=400 if form.errors else 200,
    )


def _members_page(request: HttpRequest, home, membership, invite_form=None, status=200):
    members = (
        Membership.objects.filter(home=home).select_related("user").order_by("user__email")
    )
    invitations = []
    if membership.is_owner:
        invitations = list(
            Invitation.objects.filter(home=home, accepted__isnull=True)
            .select_related("invited_by")
            .order_by("-created")
        )
    return render(
        request,
        "accounts/members.html",
        {
            "home": home,
            "membership": membership,
            "members": members,
            "invitations": invitations,
            "invite_form": invite_form or InvitationForm(initial={"role": Role.MEMBER}),
            "roles": Role.choices,
        },
        status=status,
    )


@login_required
@require_GET
def members(request: HttpRequest, code) -> HttpResponse:
    home, membership = get_home_for_user(request.user, code)
    return _members_page(request, home, membership)


@login_required
@require_POST
def invite(request: HttpRequest, code) -> HttpResponse:
    home, membership = get_home_for_user(request.user, code, Role.OWNER)
    form = InvitationForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return _members_page(request, home, membership, invite_form=form, status=400)

    def accept_url(invitation: Invitation) -> str:
        # Absolute link from the request's own (ALLOWED_HOSTS-checked) scheme and host.
        return request.build_absolute_uri(reverse("invitation", args=[invitation.code]))

    try:
        invitation = actions.do_invite_member(
            home,
            request.user,
            form.cleaned_data["email"],
            form.cleaned_data["role"],
            accept_url,
        )
    except actions.ActionError as exc:
        messages.error(request, str(exc))
        return _members_page(request, home, membership, invite_form=form, status=400)
    messages.success(
        request,
        f"Invitation sent to {invitation.email} as {invitation.get_role_display().lower()}. "
        "The link works once, for 7 days.",
    )
    return redirect("members", code=home.code)


@login_required
@require_POST
def revoke_invitation(request: HttpRequest, code, invitation_code) -> HttpResponse:
    home, _ = get_home_for_user(request.user, code, Role.OWNER)
    invitation = get_invitation_of_home(home, invitation_code)
    try:
        actions.do_revoke_invitation(invitation)
    except actions.ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Invitation for {invitation.email} withdrawn.")
    return redirect("members", code=home.code)


@login_required
@require_POST
def change_role(request: HttpRequest, code, member_code) -> HttpResponse:
    home, _ = get_home_for_user(request.user, code, Role.OWNER)
    target = get_member_of_home(home, member_code)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("members", code=home.code)
    try:
        updated = actions.do_change_role(target, form.cleaned_data["role"])
    except actions.ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"{updated.user.email} is now {updated.get_role_display().lower()}."
        )
    return redirect("members", code=home.code)


@login_required
@require_POST
def remove_member(request: HttpRequest, code, member_code) -> HttpResponse:
    home, membership = get_home_for_user(request.user, code, Role.OWNER)
    target = get_member_of_home(home, member_code)
    if target.pk == membership.pk:
        messages.error(request, "To leave this home yourself, use “Leave home”.")
        return redirect("members", code=home.code)
    try:
        actions.do_remove_member(target)
    except actions.ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{target.user.email} was removed from {home.name}.")
    return redirect("members", code=home.code)


@login_required
@require_POST
def leave_home(request: HttpRequest, code) -> HttpResponse:
    home, membership = get_home_for_user(request.user, code)
    try:
        actions.do_leave_home(membership)
    except actions.ActionError as exc:
        messages.error(request, str(exc))
        return redirect("members", code=home.code)
    if request.session.get(SESSION_HOME_KEY) == str(home.code):
        del request.session[SESSION_HOME_KEY]
    messages.success(request, f"You left {home.name}.")
    return redirect("dashboard")


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, code) -> HttpResponse:
    """The e-mailed link. Anyone holding it sees the invitation; only an account with the
    invited address, confirmed, may accept it."""
    invite = get_invitation_by_link(code)
    problem = None
    address = None
    if invite.accepted is not None:
        problem = "This invitation was already used. Ask an owner for a new one."
    elif invite.is_expired:
        problem = "This invitation has expired. Ask an owner for a new one."
    elif request.user.is_authenticated:
        address = actions.invited_address_state(invite, request.user)
        if Membership.objects.filter(home=invite.home, user=request.user).exists():
            problem = f"You are already a member of {invite.home.name}."
        elif address == "other":
            problem = (
                f"This invitation is for {invite.email}; you are signed in as "
                f"{request.user.email}. Sign in with {invite.email} to accept it."
            )
    context = {"invitation": invite, "problem": problem, "address": address}

    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect(f"{reverse('account_login')}?next={request.path}")
        if request.POST.get("action") == "confirm-address" and address == "unverified":
            actions.do_send_address_confirmation(request, request.user, invite.email)
            # After the confirmation link, allauth brings the person back here.
            request.session[CONFIRMED_ADDRESS_NEXT] = request.path
            messages.success(
                request,
                f"We sent a confirmation link to {invite.email}. Open it, then accept here.",
            )
            return redirect("invitation", code=invite.code)
        try:
            membership = actions.do_accept_invitation(invite, request.user)
        except actions.ActionError as exc:
            messages.error(request, str(exc))
            return render(
                request,
                "accounts/invitation.html",
                {**context, "problem": problem or str(exc)},
                status=409,
            )
        request.session[SESSION_HOME_KEY] = str(membership.home.code)
        messages.success(request, f"Welcome to {membership.home.name}.")
        return redirect("dashboard")
    return render(
        request,
        "accounts/invitation.html",
        context,
        # 410 Gone for a dead link (used or expired); 200 otherwise, problem or not.
        status=410 if invite.accepted is not None or invite.is_expired else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    raw_token = None
    new_token = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            new_token, raw_token = actions.do_create_api_token(
                request.user, form.cleaned_data["name"]
            )
            # The raw value is in this response only (never stored, never in a redirect).
            form = ApiTokenForm()
        else:
            status = 400
    tokens = request.user.api_tokens.order_by("-created")
    return render(
        request,
        "accounts/api_tokens.html",
        {"form": form, "tokens": tokens, "raw_token": raw_token, "new_token": new_token},
        status=status,
    )


@login_required
@require_POST
def revoke_api_token(request: HttpRequest, code) -> HttpResponse:
    token = get_token_for_user(request.user, code)
    actions.do_revoke_api_token(token)
    messages.success(request, f"Token “{token.name}” revoked; it no longer works.")
    return redirect("api_tokens")
