"""A light's look in plain words ("Warm white", "Blue", "Rainbow"), never hex codes.

The one place the portal names colours, whites and effects: the dashboard's cards and the
live feed's `shown_text` both come from here, so the page has no second copy in JavaScript.
"""

from __future__ import annotations

import colorsys
from collections.abc import Mapping
from typing import Any

# Whites by temperature, warmest first: (up to kelvin, name).
WHITES = ((2400, "Candle white"), (3100, "Warm white"), (4500, "Neutral white"),
          (6500, "Daylight"))
# The whites offered as one-tap swatches: (kelvin, name).
WHITE_SWATCHES = ((2200, "Candle white"), (2700, "Warm white"), (4000, "Neutral white"),
                  (6500, "Daylight"))
# Hues by angle, (up to degrees, name); below 15 % saturation a colour is a white.
HUES = ((15, "Red"), (40, "Orange"), (70, "Yellow"), (160, "Green"), (195, "Cyan"),
        (255, "Blue"), (285, "Purple"), (320, "Magenta"), (345, "Pink"), (360, "Red"))
# The colours offered as one-tap swatches: (hex, name); each is named as itself by color_name.
COLOR_SWATCHES = (("#ff0000", "Red"), ("#ff8000", "Orange"), ("#ffd000", "Yellow"),
                  ("#00ff00", "Green"), ("#00ffff", "Cyan"), ("#0000ff", "Blue"),
                  ("#8000ff", "Purple"), ("#ff00ff", "Magenta"), ("#ff0060", "Pink"))


def white_name(kelvin: int) -> str:
    for limit, name in WHITES:
        if kelvin <= limit:
            return name
    return WHITES[-1][1]


def color_name(color: str) -> str:
    """The everyday name of a `#rrggbb` colour: its hue's name, or White for a pale one."""
    try:
        r, g, b = (int(color[i:i + 2], 16) / 255 for i in (1, 3, 5))
    except (TypeError, ValueError, IndexError):
        return "Colour"
    hue, saturation, value = colorsys.rgb_to_hsv(r, g, b)
    if value < 0.08:
        return "Black"
    if saturation < 0.15:
        return "White"
    degrees = hue * 360
    return next(name for limit, name in HUES if degrees < limit or limit == 360)


def effect_name(effect: str) -> str:
    return effect.replace("_", " ").replace("-", " ").capitalize()


def look_words(state: Mapping[str, Any]) -> str:
    """"Warm white", "Blue · Rainbow": the colour or white, then the effect unless solid."""
    kelvin = state.get("color_temp_k")
    words = white_name(kelvin) if isinstance(kelvin, int) and kelvin else color_name(
        str(state.get("color", "")))
    effect = state.get("effect", "solid")
    return words if effect == "solid" else f"{words} · {effect_name(str(effect))}"


def shown_text(shown: Mapping[str, Any]) -> str:
    if not shown.get("on"):
        return "shows off"
    percent = round(int(shown.get("brightness", 0)) * 100 / 255)
    return f"shows on · {percent} % · {look_words(shown)}"
