"""Portal forms. The light controls speak percent for brightness; the contract speaks 0..255."""

from __future__ import annotations

from typing import Any

from django import forms

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
        for key in ("speed", "transition_ms"):
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
