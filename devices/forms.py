"""Portal forms. The light controls speak percent for brightness; the contract speaks 0..255."""

from __future__ import annotations

from typing import Any

from django import forms

from devices import words
from devices.models import Device, Room
from smartlight import contract
from smartlight.text import PlainTextForm

ON_CHOICES = [("true", "On"), ("false", "Off")]


def percent_to_level(percent: int) -> int:
    return round(percent * 255 / 100)


class StateForm(forms.Form):
    """Any subset of a light's controls; only the fields sent are changed."""

    on = forms.ChoiceField(choices=ON_CHOICES, required=False)
    brightness = forms.IntegerField(min_value=0, max_value=100, required=False,
                                    help_text="percent")
    # Colour and effect are checked by the contract itself when the change is made
    # (devices/actions.py), untrimmed: "#ff8800\n" is refused here as in the API.
    color = forms.CharField(required=False, strip=False)
    effect = forms.CharField(required=False, strip=False)
    color_temp_k = forms.IntegerField(min_value=contract.KELVIN_MIN,
                                      max_value=contract.KELVIN_MAX, required=False)
    speed = forms.IntegerField(min_value=contract.LEVEL_MIN, max_value=contract.LEVEL_MAX,
                               required=False)
    transition_ms = forms.IntegerField(
        min_value=0, max_value=contract.INTERACTIVE_MAX_TRANSITION_MS, required=False
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Colour and effect are the contract's to judge, control characters included, so the
        # portal gives the API's reason for the same value.
        for name in ("color", "effect"):
            self.fields[name].validators = []

    def changes(self) -> dict[str, Any]:
        """The desired keys the user set, in the contract's units (call after is_valid)."""
        data = self.cleaned_data
        changes: dict[str, Any] = {}
        if data.get("on"):
            changes["on"] = data["on"] == "true"
        if data.get("brightness") is not None:
            changes["brightness"] = percent_to_level(data["brightness"])
        for key in ("color", "effect"):
            if data.get(key):
                changes[key] = data[key]
        for key in ("color_temp_k", "speed", "transition_ms"):
            if data.get(key) is not None:
                changes[key] = data[key]
        return changes


class RoomForm(PlainTextForm, forms.ModelForm):
    class Meta:
        model = Room
        fields = ["name"]

    def __init__(self, *args, home=None, **kwargs):
        super().__init__(*args, **kwargs)
        if home is not None:
            self.instance.home = home

    def clean_name(self) -> str:
        # Uniqueness is the action's rule (devices/actions.py), the same for the API.
        return self.cleaned_data["name"].strip()


class DeviceForm(PlainTextForm, forms.ModelForm):
    """Rename a light or move it to another room of its home."""

    class Meta:
        model = Device
        fields = ["name", "room"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the light's own home's rooms: a foreign room code is simply not a valid choice.
        self.fields["room"].queryset = Room.objects.filter(home=self.instance.home)
        self.fields["room"].required = False
        self.fields["room"].empty_label = "No room"
        self.fields["room"].to_field_name = "code"
        # The menu's values are room codes, but a model form's initial value is the room's
        # primary key; without this the light's own room is not selected and saving the form
        # as shown would take the light out of its room.
        if self.instance.room_id is not None:
            self.initial["room"] = self.instance.room.code


class SceneForm(PlainTextForm, forms.Form):
    name = forms.CharField(max_length=100)
    devices = forms.ModelMultipleChoiceField(
        queryset=Device.objects.none(), to_field_name="code",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one light."},
    )

    def __init__(self, *args, home=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["devices"].queryset = Device.objects.filter(home=home)

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()


class ClaimForm(forms.Form):
    """The code on a light's label, as typed or as the QR code's link carried it."""

    code = forms.CharField(max_length=40, label="Claim code", strip=True,
                           widget=forms.TextInput(attrs={
                               "autocomplete": "off", "autocapitalize": "characters",
                               "spellcheck": "false", "placeholder": "ABCDE-FGHJK"}))


class SceneEditForm(PlainTextForm, forms.Form):
    """A scene's name and, for each of its lights, the look it brings back (or leave it out).

    Fields per light, by its thing name: `keep-`, `on-`, `brightness-` (percent), `white-`
    (kelvin, or empty for the colour) and `color-`.
    """

    name = forms.CharField(max_length=100)

    def __init__(self, *args, scene, devices, **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = []
        whites = [("", "— colour")] + [(str(k), name) for k, name in words.WHITE_SWATCHES]
        for device in devices:
            state = scene.states.get(device.thing_name, {})
            t = device.thing_name
            self.fields[f"keep-{t}"] = forms.BooleanField(required=False, initial=True,
                                                          label=f"Keep {device.name}")
            self.fields[f"on-{t}"] = forms.BooleanField(required=False,
                                                        initial=state.get("on", True),
                                                        label=f"{device.name} on")
            self.fields[f"brightness-{t}"] = forms.IntegerField(
                min_value=0, max_value=100, label=f"Brightness of {device.name} (percent)",
                initial=round(int(state.get("brightness", 255)) * 100 / 255))
            self.fields[f"white-{t}"] = forms.TypedChoiceField(
                required=False, coerce=int, empty_value=None, choices=whites,
                label=f"White of {device.name}", initial=state.get("color_temp_k") or "")
            self.fields[f"color-{t}"] = forms.CharField(
                required=False, strip=False, label=f"Colour of {device.name}",
                initial=state.get("color", "#ffffff"),
                widget=forms.TextInput(attrs={"type": "color"}))
            self.rows.append((device, state, [self[f"{k}-{t}"] for k in (
                "keep", "on", "brightness", "white", "color")]))
        self.things = [d.thing_name for d in devices]

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()

    def states(self) -> dict[str, dict[str, Any]]:
        """The looks to save, in the contract's units (call after is_valid)."""
        data = self.cleaned_data
        states = {}
        for t in self.things:
            if not data.get(f"keep-{t}"):
                continue
            state: dict[str, Any] = {"on": bool(data.get(f"on-{t}")),
                                     "brightness": percent_to_level(data[f"brightness-{t}"])}
            if data.get(f"white-{t}"):
                state["color_temp_k"] = data[f"white-{t}"]
            elif data.get(f"color-{t}"):
                state["color"] = data[f"color-{t}"]
            states[t] = state
        return states
