from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import ApiToken, Home, Invitation, IotCookieOutbox, Membership, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "iot_user_id", "is_staff", "is_active", "date_joined"]
    search_fields = ["email", "iot_user_id"]
    fieldsets = [
        (None, {"fields": ["email", "password", "iot_user_id"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Home)
class HomeAdmin(admin.ModelAdmin):
    list_display = ["name", "timezone", "code", "created"]
    search_fields = ["name", "code"]
    inlines = [MembershipInline]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "home", "role", "created", "accepted"]
    list_select_related = ["home"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created", "last_used"]
    list_select_related = ["user"]
    readonly_fields = ["token_hash", "prefix"]


@admin.register(IotCookieOutbox)
class IotCookieOutboxAdmin(admin.ModelAdmin):
    """iot_cookie items waiting to be pushed (see reconcile_iot_cookie)."""

    list_display = ["user_id", "version", "attempts", "updated", "last_error"]
    search_fields = ["user_id"]
    readonly_fields = ["user_id", "version", "attempts", "last_error", "created", "updated"]
