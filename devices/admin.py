"""The operators' view of every device: cached shadow, LWT presence, and the live shadow.

Operators act on lights through the same shadow gateway as the portal (devices/shadow.py); an
unreachable data plane shows as a message, never as a broken admin page.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from accounts import iot_cookie
from accounts.models import Home
from devices import actions, hooks, provisioning, shadow
from devices.models import Device, RetiredThing, Room, Scene, Serial
from smartlight import contract


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name", "home"]
    list_select_related = ["home"]
    list_filter = [("home", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "home__name"]

    # Schedules reach lights through rooms: every path that changes a room tells them.
    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if change:
                hooks.targets_changed(rooms=[obj])

    def delete_model(self, request, obj):
        actions.do_delete_room(obj)

    def delete_queryset(self, request, queryset):
        for room in queryset:
            actions.do_delete_room(room)


def _pretty(document: Any) -> str:
    # state first, metadata last: what an operator reads first is what the light shows.
    if isinstance(document, dict):
        order = {"state": 0, "version": 1, "timestamp": 2, "metadata": 3}
        document = dict(sorted(document.items(), key=lambda kv: order.get(kv[0], 2)))
    return json.dumps(document, indent=2)


# name -> (label, action function, success message)
DEVICE_COMMANDS = {
    "identify": ("Identify (blink)", actions.do_identify, "Identify command sent to"),
    "reboot": ("Reboot", actions.do_reboot, "Reboot command sent to"),
    "repush": ("Re-push desired", actions.do_repush_desired, "Desired state written again for"),
    "refresh": ("Refresh from shadow", actions.do_refresh_from_shadow,
                "Cached copy replaced by the live shadow for"),
    "revoke": ("Revoke certificate", actions.do_revoke_certificate,
               "Certificates revoked (they can never connect again) for"),
}


def _run(modeladmin: admin.ModelAdmin, request: HttpRequest, devices, name: str) -> None:
    label, action, done = DEVICE_COMMANDS[name]
    ok = []
    for device in devices:
        try:
            action(device)
        except (contract.InvalidState, shadow.ShadowError, *provisioning.AWS_ERRORS) as exc:
            modeladmin.message_user(request, f"{device.thing_name}: {label} failed: {exc}",
                                    messages.ERROR)
        else:
            ok.append(device.thing_name)
    if ok:
        modeladmin.message_user(request, f"{done} {', '.join(ok)}.", messages.SUCCESS)


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["name", "thing_name", "home", "room", "presence", "last_seen", "difference",
                    "fw", "provisioning", "certificate", "claim_state"]
    list_select_related = ["home", "room", "serial"]
    list_filter = [("home", admin.RelatedOnlyFieldListFilter), "connected", "fw", "provisioning"]
    search_fields = ["name", "thing_name", "home__name", "certificate_id"]
    readonly_fields = ["code", "thing_name", "connected", "last_seen", "shadow_version", "fw",
                       "difference", "provisioning", "certificate_id", "claim_state"]
    fields = ["name", "home", "room", "code", "thing_name", "connected", "last_seen", "fw",
              "shadow_version", "difference", "provisioning", "certificate_id", "claim_state"]
    actions = ["identify", "reboot", "repush_desired", "refresh_from_shadow",
               "revoke_certificate"]

    def get_readonly_fields(self, request, obj=None):
        # A light provisioned outside the platform (JITP, JITR) is added by its thing name.
        fields = super().get_readonly_fields(request, obj)
        return [f for f in fields if f != "thing_name"] if obj is None else fields

    @admin.display(description="certificate", ordering="certificate_id")
    def certificate(self, device: Device) -> str:
        return device.certificate_id[:10] + "…" if device.certificate_id else "-"

    @admin.display(description="claim")
    def claim_state(self, device: Device) -> str:
        serial = getattr(device, "serial", None)
        if serial is None:
            return "provisioned for this home"
        return f"claimed {serial.claimed:%Y-%m-%d %H:%M} (serial {serial.serial})" \
            if serial.claimed else f"serial {serial.serial}"
    change_form_template = "admin/devices/device/change_form.html"

    @admin.display(description="LWT status", ordering="connected", boolean=False)
    def presence(self, device: Device) -> str:
        return format_html('<span class="{}">{}</span>',
                           "online" if device.connected else "offline",
                           "connected" if device.connected else "disconnected")

    @admin.display(description="desired ≠ reported")
    def difference(self, device: Device) -> str:
        pending = device.pending
        if not pending:
            return "in sync"
        reported = device.reported or {}
        return format_html_join(
            ", ", "{}: {} → {}",
            ((key, json.dumps(reported.get(key)), json.dumps(value))
             for key, value in sorted(pending.items())),
        )

    # --- the iot_cookie mirror and schedules list things: keep them told of every change ---
    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            before = (
                Device.objects.filter(pk=obj.pk)
                .values("home_id", "room_id", "thing_name").first()
            )
            super().save_model(request, obj, form, change)
            if before is None:
                # A light added here joins its home's members' iot_cookie items and its
                # room's schedules.
                iot_cookie.mark_home(obj.home)
                hooks.targets_changed(devices=[obj])
                return
            if before["home_id"] != obj.home_id:
                iot_cookie.mark_home(obj.home)
                iot_cookie.mark_home(Home.objects.get(pk=before["home_id"]))
            if (before["home_id"], before["room_id"], before["thing_name"]) != (
                obj.home_id, obj.room_id, obj.thing_name
            ):
                old_rooms = list(Room.objects.filter(pk=before["room_id"]))
                hooks.targets_changed(devices=[obj], rooms=old_rooms)

    def delete_model(self, request, obj):
        actions.do_delete_device(obj)

    def delete_queryset(self, request, queryset):
        for device in queryset.select_related("home"):
            actions.do_delete_device(device)

    # --- list actions ---
    @admin.action(description="Identify: blink the selected lights")
    def identify(self, request, queryset):
        _run(self, request, queryset, "identify")

    @admin.action(description="Reboot the selected lights")
    def reboot(self, request, queryset):
        _run(self, request, queryset, "reboot")

    @admin.action(description="Re-push the cached desired state to the shadow")
    def repush_desired(self, request, queryset):
        _run(self, request, queryset, "repush")

    @admin.action(description="Refresh the cached copy from the live shadow")
    def refresh_from_shadow(self, request, queryset):
        _run(self, request, queryset, "refresh")

    @admin.action(description="Revoke the selected lights' certificates")
    def revoke_certificate(self, request, queryset):
        _run(self, request, queryset, "revoke")

    # --- the device page: live shadow beside the cached one, and the same commands ---
    def get_urls(self):
        return [
            path("<path:object_id>/command/<str:name>/",
                 self.admin_site.admin_view(self.command_view),
                 name="devices_device_command"),
            *super().get_urls(),
        ]

    def command_view(self, request: HttpRequest, object_id: str, name: str):
        device = get_object_or_404(Device, pk=object_id)
        if request.method != "POST" or name not in DEVICE_COMMANDS:
            return HttpResponseRedirect(reverse("admin:devices_device_change", args=[device.pk]))
        if not self.has_change_permission(request, device):
            return HttpResponseRedirect(reverse("admin:index"))
        _run(self, request, [device], name)
        return HttpResponseRedirect(reverse("admin:devices_device_change", args=[device.pk]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        device = Device.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        if device is not None:
            try:
                live = shadow.get_shadow(device.thing_name)
            except shadow.ShadowNotFound:
                extra_context["live_error"] = "No shadow yet: this light has never connected."
            except shadow.ShadowError as exc:
                extra_context["live_error"] = f"The shadow service is unreachable: {exc}"
            else:
                extra_context["live_shadow"] = _pretty(live)
            extra_context["cached_shadow"] = _pretty({
                "state": {"desired": device.desired, "reported": device.reported},
                "version": device.shadow_version,
            })
            extra_context["certificates"], extra_context["certificates_error"] = (
                _certificates(device))
            extra_context["device_commands"] = [
                (name, label) for name, (label, _a, _d) in DEVICE_COMMANDS.items()
            ]
        return super().change_view(request, object_id, form_url, extra_context)


def _certificates(device: Device) -> tuple[list[tuple[str, str]], str]:
    """(certificate id, status) of each certificate attached to the thing, live from AWS."""
    try:
        arns = provisioning.thing_certificates(device.thing_name)
        return [(provisioning.certificate_id_of(arn),
                 provisioning.certificate_status(provisioning.certificate_id_of(arn)))
                for arn in arns], ""
    except provisioning.AWS_ERRORS as exc:
        return [], f"AWS IoT is unreachable: {exc}"


@admin.register(Serial)
class SerialAdmin(admin.ModelAdmin):
    """Lights the platform made. The claim codes are on the labels only: never shown here."""

    list_display = ["serial", "method", "batch", "made", "code_expires", "claimed", "device"]
    list_select_related = ["device"]
    list_filter = ["method", ("claimed", admin.EmptyFieldListFilter), "batch"]
    search_fields = ["serial", "batch", "device__name"]
    fields = ["serial", "method", "batch", "made", "code_expires", "certificate_id", "claimed",
              "device"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made by provision_batch, with their codes and labels


@admin.register(RetiredThing)
class RetiredThingAdmin(admin.ModelAdmin):
    """Removed lights whose AWS side is still being taken down (retried until done)."""

    list_display = ["thing_name", "serial", "attempts", "last_error", "updated"]
    readonly_fields = ["thing_name", "serial", "version", "attempts", "last_error", "created",
                       "updated"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Scene)
class SceneAdmin(admin.ModelAdmin):
    list_display = ["name", "home"]
    list_select_related = ["home"]
    list_filter = [("home", admin.RelatedOnlyFieldListFilter)]

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if change:
                hooks.targets_changed(scenes=[obj])

    def delete_model(self, request, obj):
        actions.do_delete_scene(obj)

    def delete_queryset(self, request, queryset):
        for scene in queryset:
            actions.do_delete_scene(scene)
