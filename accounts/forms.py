from __future__ import annotations

from zoneinfo import available_timezones

from django import forms

from accounts.models import Role, validate_timezone
from smartlight.text import PlainTextForm


def _timezone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(available_timezones())]


class HomeSettingsForm(PlainTextForm, forms.Form):
    name = forms.CharField(max_length=100, strip=True)
    timezone = forms.TypedChoiceField(choices=_timezone_choices, validators=[validate_timezone])
    # WGS 84 ranges: latitude -90..90, longitude -180..180 (used for sunrise/sunset schedules).
    latitude = forms.FloatField(
        required=False,
        min_value=-90,
        max_value=90,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )
    longitude = forms.FloatField(
        required=False,
        min_value=-180,
        max_value=180,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )

    def clean(self):
        cleaned = super().clean()
        lat, lon = cleaned.get("latitude"), cleaned.get("longitude")
        if not self.errors and (lat is None) != (lon is None):
            raise forms.ValidationError("Give both latitude and longitude, or leave both empty.")
        return cleaned


class NewHomeForm(PlainTextForm, forms.Form):
    name = forms.CharField(max_length=100, strip=True)
    timezone = forms.TypedChoiceField(
        choices=_timezone_choices, validators=[validate_timezone], initial="UTC"
    )


def _role_field() -> forms.ChoiceField:
    return forms.ChoiceField(
        choices=Role.choices,
        error_messages={
            "invalid_choice": "Unknown role %(value)s: choose owner, member or viewer."
        },
    )


class InvitationForm(PlainTextForm, forms.Form):
    email = forms.EmailField(max_length=254)
    role = _role_field()

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()


class RoleForm(forms.Form):
    role = _role_field()


class ApiTokenForm(PlainTextForm, forms.Form):
    name = forms.CharField(max_length=100, strip=True)
