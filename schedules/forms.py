"""The portal's schedule form: widgets and parsing here, the rules in schedules/actions.py."""

from __future__ import annotations

from django import forms

from accounts.models import Home
from schedules import actions, timing
from schedules.models import Schedule, Trigger
from smartlight import contract
from smartlight.text import PlainTextForm

WEEKDAY_CHOICES = [(str(i), name) for i, name in enumerate(timing.WEEKDAY_NAMES)]
POWER_CHOICES = [("", "Leave as is"), ("on", "On"), ("off", "Off")]
ACTION_CHOICES = [("state", "Set lights"), ("scene", "Apply a scene")]

# actions/timing error fields -> form fields.
FIELD_MAP = {
    "date": "run_date",
    "time": "run_time",
    "trigger": "trigger",
    "timezone": None,
    "desired": "on",
    "desired.on": "on",
    "desired.brightness": "brightness",
    "desired.color": "color",
    "desired.effect": "effect",
    "desired.transition_ms": "transition_s",
    "desired.speed": None,
}


class TriggerForm(PlainTextForm, forms.Form):
    """Just the "when" of a schedule: what the htmx preview reads."""

    trigger = forms.ChoiceField(choices=Trigger.choices, widget=forms.RadioSelect)
    run_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    run_time = forms.TimeField(
        required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    weekdays = forms.MultipleChoiceField(
        choices=WEEKDAY_CHOICES, required=False, widget=forms.CheckboxSelectMultiple
    )
    cron = forms.CharField(
        required=False,
        max_length=100,
        help_text="minute hour day month weekday, in the home's time zone",
        widget=forms.TextInput(attrs={"placeholder": "*/30 6-22 * * 1-5", "spellcheck": "false"}),
    )
    offset_minutes = forms.IntegerField(
        required=False,
        initial=0,
        min_value=-720,
        max_value=720,
        label="Offset (minutes)",
        help_text="negative: before, positive: after",
    )

    def trigger_for(self, home: Home) -> timing.Trigger:
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return timing.Trigger(
            kind=data.get("trigger") or "",
            tz=home.timezone,
            date=data.get("run_date"),
            time=data.get("run_time"),
            weekdays=tuple(int(d) for d in data.get("weekdays") or []),
            cron=" ".join((data.get("cron") or "").split()),
            offset_minutes=data.get("offset_minutes") or 0,
            latitude=home.latitude,
            longitude=home.longitude,
        )


class ScheduleForm(TriggerForm):
    name = forms.CharField(max_length=100)
    action = forms.ChoiceField(choices=ACTION_CHOICES, initial="state", widget=forms.RadioSelect)
    devices = forms.MultipleChoiceField(
        required=False, label="Lights", widget=forms.CheckboxSelectMultiple
    )
    rooms = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    scene = forms.ChoiceField(required=False)
    on = forms.ChoiceField(choices=POWER_CHOICES, required=False, label="Power")
    brightness = forms.IntegerField(
        required=False, min_value=0, max_value=100, label="Brightness (%)"
    )
    # Colour and effect are checked by the contract (smartlight/contract.py), untrimmed.
    color = forms.CharField(
        required=False, strip=False, initial="#ffb020",
        widget=forms.TextInput(attrs={"type": "color"}),
    )
    set_color = forms.BooleanField(required=False, label="Set colour")
    effect = forms.CharField(required=False, strip=False)
    transition_s = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=contract.SCHEDULE_MAX_TRANSITION_MS // 1000,
        label="Fade (seconds)",
        help_text="up to 900 s: a 15-minute wake-up fade",
    )
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, home: Home, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.home = home
        self.fields["devices"].choices = [
            (str(d.code), d.name) for d in home.devices.order_by("name", "id")
        ]
        self.fields["rooms"].choices = [
            (str(r.code), r.name) for r in home.rooms.order_by("name", "id")
        ]
        self.fields["scene"].choices = [("", "—")] + [
            (str(s.code), s.name) for s in home.scenes.order_by("name", "id")
        ]
        self.cleaned_schedule: actions.ScheduleData | None = None

    @classmethod
    def initial_for(cls, schedule: Schedule) -> dict:
        desired = schedule.desired or {}
        initial = {
            "name": schedule.name,
            "trigger": schedule.trigger,
            "run_date": schedule.run_date,
            "run_time": schedule.run_time,
            "weekdays": [str(d) for d in schedule.weekdays],
            "cron": schedule.cron,
            "offset_minutes": schedule.offset_minutes,
            "action": "scene" if schedule.scene_id else "state",
            "devices": [str(d.code) for d in schedule.devices.all()],
            "rooms": [str(r.code) for r in schedule.rooms.all()],
            "scene": str(schedule.scene.code) if schedule.scene_id else "",
            "on": {True: "on", False: "off"}.get(desired.get("on"), ""),
            "brightness": round(desired["brightness"] * 100 / 255)
            if "brightness" in desired
            else None,
            "color": desired.get("color", "#ffffff"),
            "set_color": "color" in desired,
            "effect": desired.get("effect", ""),
            "transition_s": desired["transition_ms"] // 1000
            if "transition_ms" in desired
            else None,
            "enabled": schedule.enabled,
        }
        return initial

    def raw(self) -> dict:
        data = self.cleaned_data
        raw: dict = {
            "name": data.get("name"),
            "trigger": data.get("trigger"),
            "run_date": data.get("run_date"),
            "run_time": data.get("run_time"),
            "weekdays": [int(d) for d in data.get("weekdays") or []],
            "cron": data.get("cron") or "",
            "offset_minutes": data.get("offset_minutes") or 0,
            "enabled": data.get("enabled", False),
        }
        if data.get("action") == "scene":
            raw["scene"] = data.get("scene") or None
            if not raw["scene"]:
                self.add_error("scene", "Choose a scene.")
        else:
            raw["devices"] = data.get("devices") or []
            raw["rooms"] = data.get("rooms") or []
            raw["desired"] = self.desired()
        return raw

    def desired(self) -> dict:
        data = self.cleaned_data
        desired: dict = {}
        if data.get("on"):
            desired["on"] = data["on"] == "on"
        if data.get("brightness") is not None:
            # The portal shows percent; the shadow holds 0..255 (docs/device-contract.md).
            desired["brightness"] = round(data["brightness"] * 255 / 100)
        if data.get("set_color") and data.get("color"):
            desired["color"] = data["color"]
        if data.get("effect"):
            desired["effect"] = data["effect"]
        if data.get("transition_s") is not None:
            desired["transition_ms"] = data["transition_s"] * 1000
        return desired

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        raw = self.raw()
        if self.errors:
            return cleaned
        try:
            self.cleaned_schedule = actions.clean_schedule(self.home, raw)
        except actions.ScheduleInvalid as exc:
            for field, reason in exc.errors:
                target = FIELD_MAP.get(field, field)
                if target not in self.fields:
                    target = None
                self.add_error(target, reason)
        return cleaned
