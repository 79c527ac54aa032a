"""The portal's lights pages: the home dashboard, its live status feed, and the forms behind it.

Thin views (STYLE): parse input, fetch through devices/access.py or accounts/access.py, call an
action, respond. Light controls post with fetch() from static/js/devices.js and get JSON back;
every form also works without JavaScript (redirect back to the dashboard with a message).
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Max
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.access import require_membership
from accounts.api_auth import client_address
from accounts.models import Role
from devices import actions, claims, shadow
from devices.access import get_device_for_user, get_room_for_user, get_scene_for_user
from devices.cards import light_card
from devices.forms import ClaimForm, DeviceForm, RoomForm, SceneForm, StateForm
from devices.models import Device, Room
from devices.picture import frame_pixels, frames_dir, gradient, read_frame, strip_gradient
from smartlight import contract

# The dashboard polls the live feed this often, so changes show within 2 s.
POLL_MS = 1000


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _strip_css(device: Device, shown: dict[str, Any], base) -> str:
    frame = read_frame(device.thing_name, base) if base else None
    return gradient(frame_pixels(frame)) if frame else strip_gradient(shown,
                                                                       device.led_count or 30)


def live_state(device: Device, base=None) -> dict[str, Any]:
    """What the dashboard needs to redraw one light: cheap, from the cached row only."""
    look = device.look
    shown = device.shown
    return {
        "code": str(device.code),
        "connected": device.connected,
        "last_seen": device.last_seen.isoformat() if device.last_seen else None,
        "pending": sorted(device.pending),
        "look": {
            "on": bool(look.get("on")),
            "brightness": round(int(look.get("brightness", 0)) * 100 / 255),
            "color": look.get("color", "#ffffff"),
            "effect": look.get("effect", "solid"),
            "speed": look.get("speed", 128),
        },
        "shown": shown,
        "effects": device.effects,
        "strip": _strip_css(device, shown, base),
        "power_ma": (device.reported or {}).get("power_ma"),
        "led_count": device.led_count,
    }


def _url_maker(name: str):
    """reverse() once, then fill in each code: reversing per light is most of a card's cost."""
    marker = "00000000-0000-0000-0000-000000000000"
    pattern = reverse(name, args=[marker])
    return lambda code: pattern.replace(marker, str(code))


def _card(device: Device, base, state_url, edit_url) -> dict[str, Any]:
    live = live_state(device, base)
    look = live["look"]
    shown = live["shown"]
    if shown.get("on"):
        shown_text = (f"shows on · {round(int(shown.get('brightness', 0)) * 100 / 255)} % · "
                      f"{shown.get('color')} · {shown.get('effect')}")
    else:
        shown_text = "shows off"
    effects = list(live["effects"])
    if look["effect"] not in effects:
        effects.append(look["effect"])
    return {
        "device": device,
        "code": live["code"],
        "live": live,
        "look": look,
        "shown_text": shown_text,
        "effects": effects,
        "state_url": state_url(device.code),
        "edit_url": edit_url(device.code),
    }


def _mean_brightness(cards: list[dict[str, Any]]) -> int:
    """Where a room's brightness slider starts: the mean of its lights' brightness (percent)."""
    if not cards:
        return 50
    return round(sum(card["look"]["brightness"] for card in cards) / len(cards))


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    home = membership.home
    # Three queries whatever the number of lights: rooms, lights (with their room), scenes.
    rooms = list(Room.objects.filter(home=home).order_by("name"))
    devices = list(Device.objects.filter(home=home).select_related("room").order_by("name"))
    scenes = list(home.scenes.order_by("name"))
    base = frames_dir()
    state_url, edit_url = _url_maker("device_state"), _url_maker("device_edit")
    csrf_token = get_token(request)
    by_room: dict[int | None, list[dict[str, Any]]] = {}
    for device in devices:
        card = _card(device, base, state_url, edit_url)
        card["html"] = light_card(card, csrf_token, membership.can_control)
        by_room.setdefault(device.room_id, []).append(card)
    groups = [
        {"room": room, "lights": by_room.get(room.pk, []),
         "brightness": _mean_brightness(by_room.get(room.pk, []))}
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
    })


def _live_etag(home, base) -> str:
    """A fingerprint of everything the live feed shows, from one aggregate query.

    Simulated lights' frames change without the database (an effect animates), so in local
    mode the newest frame file time is part of it.
    """
    stats = Device.objects.filter(home=home).aggregate(n=Count("id"), t=Max("changed"))
    parts = [str(stats["n"]), stats["t"].isoformat() if stats["t"] else "-"]
    if base is not None:
        newest = 0
        for thing in Device.objects.filter(home=home).values_list("thing_name", flat=True):
            try:
                newest = max(newest, (base / thing / "frame.json").stat().st_mtime_ns)
            except OSError:
                continue
        parts.append(str(newest))
    return '"' + hashlib.blake2s("|".join(parts).encode(), digest_size=12).hexdigest() + '"'


@login_required
@require_GET
def live(request: HttpRequest) -> HttpResponse:
    """Every light of the current home as the dashboard draws it (polled every second).

    Answers 304 while nothing changed: the browser revalidates its copy with If-None-Match
    (Cache-Control: no-cache), so an idle dashboard costs one aggregate query per poll.
    """
    membership = require_membership(request)
    base = frames_dir()
    etag = _live_etag(membership.home, base)
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponseNotModified()
    else:
        devices = Device.objects.filter(home=membership.home).order_by("name")
        response = JsonResponse({"devices": [live_state(d, base) for d in devices]})
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    return response


def _errors_response(request: HttpRequest, errors: list[dict[str, str]], status: int = 422):
    if _wants_json(request):
        return JsonResponse({"errors": errors}, status=status)
    for error in errors:
        messages.error(request, f"{error['field']}: {error['reason']}")
    return redirect("dashboard")


def _form_errors(form) -> list[dict[str, str]]:
    return [
        {"field": field, "reason": " ".join(str(e) for e in errs)}
        for field, errs in form.errors.items()
    ]


def _shadow_failure(request: HttpRequest, exc: contract.InvalidState | shadow.ShadowError):
    """The same status as the API answers (smartlight/api.py): the exception's own."""
    if isinstance(exc, contract.InvalidState):
        return _errors_response(request, [{"field": e.field, "reason": e.reason}
                                          for e in exc.errors], status=exc.status)
    return _errors_response(request, [{"field": "light", "reason": exc.reason}],
                            status=exc.status)


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
    if _wants_json(request):
        return JsonResponse({"device": live_state(device, frames_dir())})
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
    if _wants_json(request):
        base = frames_dir()
        return JsonResponse({
            "devices": [live_state(d, base) for d in result.changed],
            "failed": result.failed,
        })
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
@require_POST
def scene_create(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request, Role.MEMBER)
    form = SceneForm(request.POST, home=membership.home)
    if not form.is_valid():
        return _errors_response(request, _form_errors(form))
    scene = actions.do_save_scene(membership.home, form.cleaned_data["name"],
                                  form.cleaned_data["devices"])
    if _wants_json(request):
        return JsonResponse({"scene": {"code": str(scene.code), "name": scene.name}})
    messages.success(request, f"Scene “{scene.name}” saved.")
    return redirect("dashboard")


@login_required
@require_POST
def scene_apply(request: HttpRequest, code) -> HttpResponse:
    scene, _ = get_scene_for_user(request.user, code, Role.MEMBER)
    result = actions.do_apply_scene(scene)
    if _wants_json(request):
        return JsonResponse({"changed": [str(d.code) for d in result.changed],
                             "failed": result.failed})
    if result.failed:
        for name, reason in result.failed.items():
            messages.error(request, f"{name}: {reason}")
    else:
        messages.success(request, f"Scene “{scene.name}” applied.")
    return redirect("dashboard")


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
