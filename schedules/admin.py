from django.contrib import admin, messages

from schedules import mirror
from schedules.models import MirrorOutbox, Schedule


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = ["name", "home", "trigger", "enabled", "next_run", "last_run", "code"]
    list_filter = ["trigger", "enabled"]
    search_fields = ["name", "code", "home__name"]
    list_select_related = ["home"]
    readonly_fields = [
        "code",
        "next_run",
        "last_run",
        "last_result",
        "mirror_expression",
        "mirror_points_at",
    ]
    raw_id_fields = ["home", "scene"]
    filter_horizontal = ["devices", "rooms"]

    def changelist_view(self, request, extra_context=None):
        warning = mirror.quota_status()
        if warning:
            messages.warning(request, warning)
        return super().changelist_view(request, extra_context)


@admin.register(MirrorOutbox)
class MirrorOutboxAdmin(admin.ModelAdmin):
    list_display = ["code", "version", "attempts", "updated", "last_error"]
    readonly_fields = ["code", "version", "attempts", "created", "updated", "last_error"]
