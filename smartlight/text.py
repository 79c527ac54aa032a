"""The one rule for free text typed by people (names of homes, rooms, lights, scenes,
schedules, tokens; cron expressions): no control characters.

NUL cannot be stored by PostgreSQL at all, CR/LF break mail headers and log lines, and the
other C0/C1 controls are invisible in the portal. Unpaired surrogates (possible in JSON
`\\ud800` escapes) cannot be encoded as UTF-8. The portal's forms and the API's schemas use the
same check, so a refusal reads the same in both: a form error, or 422 naming the field.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from django import forms
from django.core.exceptions import ValidationError
from pydantic import AfterValidator, StringConstraints

CONTROL_CHARACTERS = "must not contain control characters (such as NUL, tab or line breaks)"
SURROGATES = "must not contain unpaired surrogate code points"


def text_problem(value: str) -> str | None:
    """Why `value` is not acceptable free text, or None when it is."""
    for char in value:
        category = unicodedata.category(char)
        if category == "Cc":
            return CONTROL_CHARACTERS
        if category == "Cs":
            return SURROGATES
    return None


def validate_plain_text(value: str) -> None:
    """Django validator (forms, models)."""
    problem = text_problem(value)
    if problem:
        raise ValidationError(f"This field {problem}.", code="control_characters")


def _checked(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


# For the API's schemas: `name: Name`, `cron: PlainText`.
PlainText = Annotated[str, AfterValidator(_checked)]
def _name(value: str) -> str:
    # Trimmed before the check, as the portal's form fields trim (a pasted trailing newline).
    value = _checked(value.strip())
    if not value:
        raise ValueError("must not be blank")
    return value


# The length is checked as sent, then the name is trimmed: what the schema documents
# (maxLength 100) is what is refused, whitespace around the name included.
Name = Annotated[str, StringConstraints(min_length=1, max_length=100), AfterValidator(_name)]


class PlainTextForm:
    """Mixin for portal forms (before forms.Form): every text field refuses control characters."""

    fields: dict[str, forms.Field]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.CharField):
                field.validators.append(validate_plain_text)
