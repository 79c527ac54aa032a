from django.contrib import admin

from devices.models import Device, Room, Scene


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name", "home"]
    list_select_related = ["home"]
    search_fields = ["name", "home__name"]


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["name", "thing_name", "home", "room", "connected", "last_seen", "fw"]
    list_select_related = ["home", "room"]
    list_filter = ["connected", "fw"]
    search_fields = ["name", "thing_name", "home__name"]
    readonly_fields = ["code", "desired", "reported", "shadow_version", "last_seen"]


@admin.register(Scene)
class SceneAdmin(admin.ModelAdmin):
    list_display = ["name", "home"]
    list_select_related = ["home"]
