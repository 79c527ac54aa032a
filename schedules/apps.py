from django.apps import AppConfig


class SchedulesConfig(AppConfig):
    name = "schedules"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # schedules sits above accounts and devices: they call these through their hooks
        # modules instead of importing schedules.
        from accounts import hooks as account_hooks
        from devices import hooks as device_hooks
        from schedules import actions

        actions.register_mirror()
        device_hooks.on_targets_changed(actions.schedules_targets_changed)
        device_hooks.on_scene_deleting(actions.disable_schedules_of_scene)
        account_hooks.on_home_clock_changed(actions.do_home_clock_changed)
        account_hooks.on_location_needed(actions.sun_schedules_needing_location)
