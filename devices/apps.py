from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "devices"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts import hooks
        from devices import actions
        from devices.models import Device

        actions.register_mirror()

        def things_of_homes(home_ids):
            found: dict[int, list[str]] = {}
            rows = Device.objects.filter(home_id__in=list(home_ids)).values_list(
                "home_id", "thing_name"
            )
            for home_id, thing in rows:
                found.setdefault(home_id, []).append(thing)
            return found

        hooks.provide_things_of_homes(things_of_homes)
