"""Portal forms. The light controls speak percent for brightness; the contract speaks 0..255."""

from __future__ import annotations

from typing import Any

from django import forms

from devices.models import Device, Room
from smartlight.text import PlainTextForm

ON_CHOICES = [("true", "On"), ("false", "Off")]


def percent_to_level(percent: int) -> int:
    return round(percent * 255 / 100)


class StateForm(PlainTextForm, forms.Form):
    """Any subset of a light's controls; only the fields sent are changed."""

    on = forms.ChoiceField(choices=ON_CHOICES, required=False)
    brightness = forms.IntegerField(min_value=0, max_value=100, required=False,
                                    help_text="percent")
    color = forms.CharField(max_length=7, required=False)
    effect = forms.CharField(max_length=40, required=False)
    speed = forms.IntegerField(min_value=0, max_value=255, required=False)
    transition_ms = forms.IntegerField(min_value=0, max_value=60000, required=False)

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
        name = self.cleaned_data["name"].strip()
        clash = Room.objects.filter(home=self.instance.home, name__iexact=name)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError("This home already has a room of that name.")
        return name


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
