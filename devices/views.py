"""The portal's lights pages: the home dashboard and the forms behind it.

Thin views (STYLE): parse input, fetch through devices/access.py or accounts/access.py, call an
action, respond. On the dashboard, static/js/devices.js talks to the JSON API (/api/v1, the
session's cookie and CSRF token) for every change and every live update; the forms here are
what a browser without the script posts (redirect back to the dashboard with a message).
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.access import require_membership
from accounts.api_auth import client_address
from accounts.models import Role
from devices import actions, claims, shadow, words
from devices.access import get_device_for_user, get_room_for_user, get_scene_for_user
from devices.api import device_out
from devices.cards import light_card
from devices.forms import ClaimForm, DeviceForm, RoomForm, SceneEditForm, SceneForm, StateForm
from devices.models import Device, Room
from devices.picture import frames_dir, strip_gradient
from smartlight import contract

# The home screen asks the API for its lights this often, so changes show within 2 s.
POLL_MS = 1000


def _url_maker(name: str):
    """reverse() once, then fill in each code: reversing per light is most of a card's cost."""
    marker = "00000000-0000-0000-0000-000000000000"
    pattern = reverse(name, args=[marker])
    return lambda code: pattern.replace(marker, str(code))


def _mean_brightness(lights: list[dict[str, Any]]) -> int:
    """Where a room's brightness slider starts: the mean of its lights' brightness (percent)."""
    if not lights:
        return 50
    return round(sum(light["look"]["brightness"] for light in lights) * 100 / 255 / len(lights))


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    home = membership.home
    # Three queries whatever the number of lights: rooms, lights (with their room), scenes.
    rooms = list(Room.objects.filter(home=home).order_by("name"))
    devices = list(Device.objects.filter(home=home).select_related("home", "room")
                   .order_by("name"))
    scenes = list(home.scenes.order_by("name"))
    frames = frames_dir()
    state_url, edit_url = _url_maker("device_state"), _url_maker("device_edit")
    # Each tile is drawn from the light as the API answers it: the page's script redraws it
    # from the same answer (GET /api/v1/devices) once a second.
    by_room: dict[int | None, list[dict[str, Any]]] = {}
    for device in devices:
        light = device_out(device, membership.role, frames)
        light["html"] = light_card(device, light, state_url(device.code), membership.can_control)
        by_room.setdefault(device.room_id, []).append(light)
    groups = [
        {"room": room, "lights": by_room.get(room.pk, []),
         "brightness": _mean_brightness(by_room.get(room.pk, [])),
         "any_on": any(light["look"]["on"] for light in by_room.get(room.pk, []))}
        for room in rooms
    ]
    if by_room.get(None):
        groups.append({"room": None, "lights": by_room[None]})
    return render(request, "devices/dashboard.html", {
        "home": home,
        "membership": membership,
        "can_control": membership.can_control,
        "disabled": "" if membership.can_control else "disabled",
        "groups": groups,
        "devices": devices,
        "scenes": scenes,
        "scene_form": SceneForm(home=home),
        "room_form": RoomForm(home=home),
        "poll_ms": POLL_MS,
        "edit_url_pattern": edit_url("CODE"),
        "api_urls": _api_urls(home),
        "white_swatches": words.WHITE_SWATCHES,
        "color_swatches": words.COLOR_SWATCHES,
    })


def _api_urls(home) -> dict[str, str]:
    """The API operations the home screen's script uses, CODE standing for an object's code."""
    return {
        "devices": reverse("api:list_devices") + f"?home={home.code}",
        "device_state": _url_maker("api:set_state")("CODE"),
        "room_state": _url_maker("api:set_room_state")("CODE"),
        "scene_apply": _url_maker("api:apply_scene")("CODE"),
    }


def _errors_response(request: HttpRequest, errors: list[dict[str, str]]) -> HttpResponse:
    """A form posted without the page's script: back to the dashboard, which says what failed.
    (The script talks to the API, which answers the same failures with their statuses.)"""
    for error in errors:
        messages.error(request, f"{error['field']}: {error['reason']}")
    return redirect("dashboard")


def _form_errors(form) -> list[dict[str, str]]:
    return [
        {"field": field, "reason": " ".join(str(e) for e in errs)}
        for field, errs in form.errors.items()
    ]


def _shadow_failure(request: HttpRequest, exc: contract.InvalidState | shadow.ShadowError):
    """The same words as the API's answer to the same failure (smartlight/api.py)."""
    if isinstance(exc, contract.InvalidState):
        return _errors_response(request, [{"field": e.field, "reason": e.reason}
                                          for e in exc.errors])
    return _errors_response(request, [{"field": "light", "reason": exc.reason}])


@login_required
@require_POST
def set_state(request: HttpRequest, code) -> HttpResponse:
    device, _ = get_device_for_user(request.user, code, Role.MEMBER)
    form = StateForm(request.POST)
    if not form.is_valid():
        return _errors_response(request, _form_errors(form))
    try:
        actions.do_set_desired(device, form.changes())
    except (contract.InvalidState, shadow.ShadowError) as exc:
        return _shadow_failure(request, exc)
    return redirect("dashboard")


@login_required
@require_POST
def set_room_state(request: HttpRequest, code) -> HttpResponse:
    room, _ = get_room_for_user(request.user, code, Role.MEMBER)
    form = StateForm(request.POST)
    if not form.is_valid():
        return _errors_response(request, _form_errors(form))
    try:
        result = actions.do_set_many(room.devices.all(), form.changes())
    except (contract.InvalidState, shadow.ShadowError) as exc:
        return _shadow_failure(request, exc)
    for name, reason in result.failed.items():
        messages.error(request, f"{name}: {reason}")
    return redirect("dashboard")


# --- rooms -----------------------------------------------------------------------------------
@login_required
@require_POST
def room_create(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request, Role.MEMBER)
    form = RoomForm(request.POST, home=membership.home)
    if form.is_valid():
        try:
            room = actions.do_create_room(membership.home, form.cleaned_data["name"])
        except actions.RoomNameTaken as exc:
            messages.error(request, exc.errors[0].reason)
        else:
            messages.success(request, f"Room “{room.name}” added.")
    else:
        for error in _form_errors(form):
            messages.error(request, f"Room {error['field']}: {error['reason']}")
    return redirect("dashboard")


@login_required
def room_edit(request: HttpRequest, code) -> HttpResponse:
    room, membership = get_room_for_user(request.user, code, Role.MEMBER)
    form = RoomForm(request.POST or None, instance=room)
    if request.method == "POST" and form.is_valid():
        room.refresh_from_db(fields=["name"])  # the form wrote onto the instance
        try:
            actions.do_rename_room(room, form.cleaned_data["name"])
        except actions.RoomNameTaken as exc:
            form.add_error("name", exc.errors[0].reason)
        else:
            messages.success(request, f"Room renamed to “{room.name}”.")
            return redirect("dashboard")
    return render(request, "devices/room_edit.html", {"room": room, "form": form},
                  status=400 if form.errors else 200)


@login_required
@require_POST
def room_delete(request: HttpRequest, code) -> HttpResponse:
    room, _ = get_room_for_user(request.user, code, Role.MEMBER)
    actions.do_delete_room(room)
    messages.success(request, f"Room “{room.name}” removed; its lights stay, without a room.")
    return redirect("dashboard")


# --- lights ----------------------------------------------------------------------------------
@login_required
def device_edit(request: HttpRequest, code) -> HttpResponse:
    device, membership = get_device_for_user(request.user, code, Role.MEMBER)
    form = DeviceForm(request.POST or None, instance=device)
    if request.method == "POST" and form.is_valid():
        device.refresh_from_db(fields=["name", "room"])  # the form wrote onto the instance
        actions.do_update_device(device, name=form.cleaned_data["name"],
                                 room=form.cleaned_data["room"])
        messages.success(request, f"Saved “{device.name}”.")
        return redirect("dashboard")
    return render(
        request, "devices/device_edit.html",
        {"device": device, "form": form, "is_owner": membership.is_owner},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def device_delete(request: HttpRequest, code) -> HttpResponse:
    device, _ = get_device_for_user(request.user, code, Role.OWNER)
    actions.do_delete_device(device)
    messages.success(request, f"“{device.name}” was removed from this home.")
    return redirect("dashboard")


# --- scenes ----------------------------------------------------------------------------------
@login_required
def scene_create(request: HttpRequest) -> HttpResponse:
    """GET: the form (name, lights to include); POST: save their current look as a scene."""
    membership = require_membership(request, Role.MEMBER)
    if request.method != "POST":
        return render(request, "devices/scene_new.html", {
            "devices": Device.objects.filter(home=membership.home).order_by("name")})
    form = SceneForm(request.POST, home=membership.home)
    if not form.is_valid():
        return _errors_response(request, _form_errors(form))
    scene = actions.do_save_scene(membership.home, form.cleaned_data["name"],
                                  form.cleaned_data["devices"])
    messages.success(request, f"Scene “{scene.name}” saved.")
    return redirect("dashboard")


@login_required
@require_POST
def scene_apply(request: HttpRequest, code) -> HttpResponse:
    scene, _ = get_scene_for_user(request.user, code, Role.MEMBER)
    result = actions.do_apply_scene(scene)
    if result.failed:
        for name, reason in result.failed.items():
            messages.error(request, f"{name}: {reason}")
    else:
        messages.success(request, f"Scene “{scene.name}” applied.")
    return redirect("dashboard")


@login_required
def scene_edit(request: HttpRequest, code) -> HttpResponse:
    """Rename a scene and change the look it brings back to each light, with a preview."""
    scene, _ = get_scene_for_user(request.user, code, Role.MEMBER)
    devices = list(Device.objects.filter(home=scene.home, thing_name__in=list(scene.states))
                   .order_by("name"))
    form = SceneEditForm(request.POST or None, scene=scene, devices=devices,
                         initial={"name": scene.name})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                actions.do_update_scene(scene, form.cleaned_data["name"], form.states())
            except contract.InvalidState as exc:
                for error in exc.errors:
                    form.add_error(None, f"{error.field}: {error.reason}")
                status = exc.status
            else:
                messages.success(request, f"Scene “{scene.name}” saved.")
                return redirect("dashboard")
        else:
            status = 400
    previews = [
        {"device": device, "words": words.shown_text(state),
         "strip": strip_gradient(state, device.led_count or 30), "fields": fields}
        for device, state, fields in form.rows
    ]
    return render(request, "devices/scene_edit.html",
                  {"scene": scene, "form": form, "previews": previews}, status=status)


@login_required
@require_POST
def scene_delete(request: HttpRequest, code) -> HttpResponse:
    scene, _ = get_scene_for_user(request.user, code, Role.MEMBER)
    stopped = actions.do_delete_scene(scene)
    messages.success(request, f"Scene “{scene.name}” deleted.")
    if stopped:
        messages.warning(request, f"{stopped} schedule(s) that applied it are now switched off.")
    return redirect("dashboard")


# --- adding a light (claim code) ---------------------------------------------------------------
def _claim_page(request: HttpRequest, membership, form: ClaimForm, status: int = 200):
    return render(request, "devices/light_add.html",
                  {"form": form, "home": membership.home}, status=status)


@login_required
def light_add(request: HttpRequest, code: str = "") -> HttpResponse:
    """Step 1 of "Add a light": the code from the label, typed or carried by the QR link."""
    membership = require_membership(request, Role.MEMBER)
    if request.method != "POST":
        return _claim_page(request, membership, ClaimForm(initial={"code": code}))
    form = ClaimForm(request.POST)
    if not form.is_valid():
        return _claim_page(request, membership, form, status=422)
    address = client_address(request)
    if claims.too_many_guesses(request.user.pk, address):
        form.add_error("code", TOO_MANY_GUESSES)
        return _claim_page(request, membership, form, status=429)
    try:
        device = actions.do_claim_light(membership.home, form.cleaned_data["code"])
    except actions.InvalidClaimCode as exc:
        claims.count_wrong_guess(request.user.pk, address)
        form.add_error("code", str(exc))
        return _claim_page(request, membership, form, status=422)
    except actions.ClaimError as exc:
        form.add_error("code", str(exc))
        return _claim_page(request, membership, form, status=409)
    return redirect("light_setup", code=device.code)


TOO_MANY_GUESSES = "Too many wrong codes from here; wait a quarter of an hour and try again."


@login_required
def light_setup(request: HttpRequest, code) -> HttpResponse:
    """Steps 2 and 3: wait for the light to come online and blink, then name it, pick a room."""
    device, _ = get_device_for_user(request.user, code, Role.MEMBER)
    form = DeviceForm(request.POST or None, instance=device,
                      initial={"name": "" if device.name == "New light" else device.name})
    if request.method == "POST" and form.is_valid():
        device.refresh_from_db(fields=["name", "room"])
        actions.do_update_device(device, name=form.cleaned_data["name"],
                                 room=form.cleaned_data["room"])
        messages.success(request, f"“{device.name}” is added to {device.home.name}.")
        return redirect("dashboard")
    return render(request, "devices/light_setup.html",
                  {"device": device, "form": form, **_setup_steps(request, device)},
                  status=400 if form.errors else 200)


def _setup_steps(request: HttpRequest, device: Device) -> dict[str, Any]:
    """Where the new light is: online yet? told to blink? Once online it blinks once."""
    if not device.connected:
        with contextlib.suppress(shadow.ShadowError):
            # The light may have come online before it was claimed (its events were ignored).
            device = actions.do_refresh_from_shadow(device)
    key = f"identified:{device.code}"
    identify_error = ""
    if device.connected and not request.session.get(key):
        try:
            actions.do_identify(device)
        except shadow.ShadowError as exc:
            identify_error = f"The light could not be told to blink: {exc}"
        else:
            request.session[key] = True
    return {"device": device, "online": device.connected,
            "blinked": bool(request.session.get(key)), "identify_error": identify_error}


@login_required
def light_setup_status(request: HttpRequest, code) -> HttpResponse:
    """The steps as an HTML fragment; the setup page polls it (htmx) until the light is online."""
    device, _ = get_device_for_user(request.user, code, Role.MEMBER)
    return render(request, "devices/_setup_steps.html", _setup_steps(request, device))


@login_required
@require_POST
def light_blink(request: HttpRequest, code) -> HttpResponse:
    device, _ = get_device_for_user(request.user, code, Role.MEMBER)
    request.session.pop(f"identified:{device.code}", None)
    if request.htmx:
        return render(request, "devices/_setup_steps.html", _setup_steps(request, device))
    _setup_steps(request, device)
    return redirect("light_setup", code=device.code)
