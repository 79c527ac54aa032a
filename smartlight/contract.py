"""The light-state contract: what a valid `desired` or `reported` shadow state is.

One module for every caller: the portal forms, the API schemas, the shadow gateway
(devices/shadow.py), schedules, the status consumer (devices/ingest.py) and the schedule Lambda,
which bundles this file (lambda/build.py), so it uses the standard library only. The firmware
cannot import it; its copy (firmware/device/light.py) is checked against the same table of
cases (smartlight/contract_cases.json) under CPython and MicroPython. See docs/device-contract.md.

Decisions kept here:
- A colour is `#rrggbb`. Upper-case hex digits are accepted and lowered (the firmware does the
  same); anything else, including a trailing newline, is refused: patterns are matched whole
  (`fullmatch`), never with `$`, which also matches before a final newline.
- Transition limits depend on the caller: an interactive change (portal, API) fades in at most
  60 s; a schedule may ask for a 15-minute wake-up fade; the device accepts up to 15 minutes.
- An effect is a short lower-case name; where the light is known, it must be one of the effects
  the light reports (`solid` always exists).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

DESIRED_KEYS = ("on", "brightness", "color", "effect", "speed", "transition_ms")
REPORTED_ONLY_KEYS = (
    "connected", "fw", "led_count", "max_ma", "power_ma", "effects", "rssi", "heap_free",
    "uptime_s",
)
SOLID = "solid"

LEVEL_MIN, LEVEL_MAX = 0, 255  # brightness and speed
INTERACTIVE_MAX_TRANSITION_MS = 60_000
SCHEDULE_MAX_TRANSITION_MS = 900_000
DEVICE_MAX_TRANSITION_MS = 900_000

# Patterns as JSON Schema (ECMA 262) writes them, for the OpenAPI document; together with the
# exact lengths below they admit exactly what the fullmatch checks admit.
COLOR_PATTERN = "^#[0-9a-fA-F]{6}$"
COLOR_LENGTH = 7
EFFECT_PATTERN = "^[a-z0-9_-]{1,32}$"
MAX_EFFECT_LENGTH = 32
_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_EFFECT = re.compile(r"[a-z0-9_-]{1,32}")

# Bounds on what a device may report, so one light cannot fill a row or a page.
MAX_EFFECTS = 32
MAX_FW_LENGTH = 32
MAX_STRING = 256
MAX_LIST = 64
MAX_KEYS = 64
MAX_DEPTH = 4
MAX_COUNT = 2**31 - 1  # integers the reported-only counters may carry (led_count, heap_free, ...)
# C0 and C1 control characters, DEL and NUL: never stored (PostgreSQL refuses NUL in jsonb).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class InvalidState(ValueError):
    """A state document breaks the contract; every bad field is listed. Nothing was sent."""

    status = 422

    def __init__(self, errors: Iterable[FieldError]):
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))


def _is_int(value: Any) -> bool:
    # bool is an int in Python but not in the contract's JSON.
    return isinstance(value, int) and not isinstance(value, bool)


def _whole(value: Any, low: int, high: int) -> int | None:
    """`value` as an int when it is a whole number from `low` to `high`, else None.

    JSON (and JSON Schema's "integer") does not tell 128 from 128.0, so a float without a
    fraction counts; the firmware applies the same rule.
    """
    whole = _is_int(value) or (isinstance(value, float) and value.is_integer())
    return int(value) if whole and low <= value <= high else None


def normalise_color(value: Any) -> str | None:
    """`value` as the contract's `#rrggbb`, or None when it is not a colour."""
    if isinstance(value, str) and _COLOR.fullmatch(value):
        return value.lower()
    return None


def is_effect_name(value: Any) -> bool:
    return isinstance(value, str) and _EFFECT.fullmatch(value) is not None


def effects_of(reported: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The effects a light offers: `solid` and the well-formed names it reported."""
    names = (reported or {}).get("effects")
    found = list(dict.fromkeys(n for n in names if is_effect_name(n))) if isinstance(
        names, list) else []
    found = found[:MAX_EFFECTS]
    return tuple(found if SOLID in found else [SOLID, *found])


def clean_value(
    key: str,
    value: Any,
    *,
    max_transition_ms: int = INTERACTIVE_MAX_TRANSITION_MS,
    effects: Iterable[str] | None = None,
) -> Any:
    """The value of one desired key in the contract's form; ValueError(reason) if it breaks it.

    `effects`: the effects of the light it is for; None when no one light is known (a
    schedule), and then only the name's form is checked.
    """
    if key == "on":
        if isinstance(value, bool):
            return value
        raise ValueError("must be true or false")
    if key in ("brightness", "speed", "transition_ms"):
        high = max_transition_ms if key == "transition_ms" else LEVEL_MAX
        whole = _whole(value, 0, high)
        if whole is not None:
            return whole
        if _is_int(value):
            raise ValueError(f"must be from 0 to {high}, got {value}")
        raise ValueError(f"must be a whole number from 0 to {high}")
    if key == "color":
        color = normalise_color(value)
        if color is None:
            raise ValueError(f'must be "#rrggbb" hex, got {_short(value)}')
        return color
    if key == "effect":
        if not is_effect_name(value):
            raise ValueError(
                f"must be an effect name (a to z, 0 to 9, _ or -, at most {MAX_EFFECT_LENGTH}),"
                f" got {_short(value)}"
            )
        if effects is not None:
            allowed = {SOLID, *effects}
            if value not in allowed:
                raise ValueError(
                    f"{value!r} is not an effect of this light "
                    f"(available: {', '.join(sorted(allowed))})"
                )
        return value
    raise ValueError(f"is not a desired key (allowed: {', '.join(DESIRED_KEYS)})")


def validate_desired(
    desired: Any,
    *,
    max_transition_ms: int = INTERACTIVE_MAX_TRANSITION_MS,
    effects: Iterable[str] | None = None,
    allow_empty: bool = False,
) -> dict[str, Any]:
    """Check a partial desired document and return its clean copy; InvalidState lists every
    bad field. Only the keys given are checked: a desired update merges."""
    if not isinstance(desired, Mapping):
        raise InvalidState([FieldError("desired", "must be an object of state keys")])
    if not desired and not allow_empty:
        raise InvalidState([FieldError("desired", "names nothing to change")])
    effects = None if effects is None else tuple(effects)
    errors: list[FieldError] = []
    clean: dict[str, Any] = {}
    for key, value in desired.items():
        try:
            clean[key] = clean_value(
                str(key), value, max_transition_ms=max_transition_ms, effects=effects
            )
        except ValueError as exc:
            errors.append(FieldError(_short_key(key), str(exc)))
    if errors:
        raise InvalidState(errors)
    return clean


def contract_values(state: Any, *, max_transition_ms: int = DEVICE_MAX_TRANSITION_MS
                    ) -> dict[str, Any]:
    """The desired keys of `state` whose values fit the contract, in its form; others dropped.

    What a device reports may be anything; the portal still draws the light.
    """
    if not isinstance(state, Mapping):
        return {}
    values = {}
    for key in DESIRED_KEYS:
        if key in state:
            try:
                values[key] = clean_value(key, state[key], max_transition_ms=max_transition_ms)
            except ValueError:
                continue
    return values


def desired_schema(
    max_transition_ms: int, effect_note: str = "", *, min_properties: int = 1
) -> dict[str, Any]:
    """The JSON Schema of a partial desired state, exactly as validate_desired applies it
    (the API's OpenAPI document advertises it)."""
    level = {"type": "integer", "minimum": LEVEL_MIN, "maximum": LEVEL_MAX}
    return {
        "title": "DesiredState",
        "description": "A partial desired state: only the keys given change.",
        "type": "object",
        "additionalProperties": False,
        "minProperties": min_properties,
        "properties": {
            "on": {"type": "boolean"},
            "brightness": level,
            "color": {
                "type": "string", "pattern": COLOR_PATTERN,
                "minLength": COLOR_LENGTH, "maxLength": COLOR_LENGTH,
                "description": "#rrggbb; upper-case hex digits are stored lower-case",
                "examples": ["#ff8800"],
            },
            "effect": {
                "type": "string", "pattern": EFFECT_PATTERN,
                "minLength": 1, "maxLength": MAX_EFFECT_LENGTH,
                **({"description": effect_note} if effect_note else {}),
            },
            "speed": level,
            "transition_ms": {"type": "integer", "minimum": 0, "maximum": max_transition_ms},
        },
    }


# --- what a device reports -------------------------------------------------------------------
def clean_text(value: str, limit: int = MAX_STRING) -> str:
    """Text without control characters (NUL included), at most `limit` characters."""
    return _CONTROL.sub("", value)[:limit]


def _clean_json(value: Any, depth: int) -> Any:
    """Any JSON value, bounded: strings cleaned, lists and objects cut, nesting limited."""
    if isinstance(value, str):
        return clean_text(value)
    if value is None or isinstance(value, bool | int | float):
        if isinstance(value, float) and not math.isfinite(value):  # no JSON form
            return None
        return value
    if depth >= MAX_DEPTH:
        return None
    if isinstance(value, list):
        return [_clean_json(v, depth + 1) for v in value[:MAX_LIST]]
    if isinstance(value, Mapping):
        out = {}
        for key, item in list(value.items())[:MAX_KEYS]:
            name = clean_text(str(key), MAX_EFFECT_LENGTH * 2)
            if name:
                out[name] = _clean_json(item, depth + 1)
        return out
    return None


_REPORTED_CHECKS = {
    "connected": lambda v: v if isinstance(v, bool) else None,
    "fw": lambda v: clean_text(v, MAX_FW_LENGTH) if isinstance(v, str) else None,
    "effects": lambda v: list(dict.fromkeys(e for e in v if is_effect_name(e)))[:MAX_EFFECTS]
    if isinstance(v, list) else None,
}


def _count(value: Any) -> int | None:
    return value if _is_int(value) and -MAX_COUNT <= value <= MAX_COUNT else None


def sanitize_state(state: Any) -> dict[str, Any]:
    """A shadow state section (desired or reported) as the platform stores it.

    The contract's keys keep only values that fit it (a colour in upper case is lowered);
    reported-only keys are type-checked; any other key is kept as bounded JSON without control
    characters, so one device's report can neither break a database write nor grow unbounded.
    """
    if not isinstance(state, Mapping):
        return {}
    clean: dict[str, Any] = {}
    for key, value in list(state.items())[:MAX_KEYS]:
        name = clean_text(str(key), MAX_EFFECT_LENGTH * 2)
        if not name:
            continue
        if name in DESIRED_KEYS:
            try:
                clean[name] = clean_value(
                    name, value, max_transition_ms=DEVICE_MAX_TRANSITION_MS
                )
            except ValueError:
                continue
        elif name in _REPORTED_CHECKS:
            checked = _REPORTED_CHECKS[name](value)
            if checked is not None:
                clean[name] = checked
        elif name in REPORTED_ONLY_KEYS:
            checked = _count(value)
            if checked is not None:
                clean[name] = checked
        else:
            clean[name] = _clean_json(value, 1)
    return clean


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _short_key(key: Any) -> str:
    return clean_text(str(key), 64) or "desired"
