"""A picture of a strip's look: a CSS gradient of its pixel colours.

The portal shows the real frame when a simulated light publishes one (local mode), otherwise
an approximation computed from the reported state. Either way it is one short CSS string, so
the dashboard and its live updates stay cheap for hundreds of lights.
"""

from __future__ import annotations

import colorsys
import json
import os
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from smartlight import contract

OFF_COLOR = "#1b1b1f"
# More stops than this are invisible in a tile a couple of hundred pixels wide.
MAX_STOPS = 8
RAINBOW_EFFECTS = {"rainbow", "rainbow_cycle", "rainbow-cycle", "colorloop", "color_loop"}
CHASE_EFFECTS = {"chase", "theater", "theater_chase", "comet", "scanner", "larson"}


def _hex(rgb: Sequence[int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(max(0, min(255, int(c))) for c in rgb[:3]))


def _scale(rgb: Sequence[int], brightness: int) -> tuple[int, int, int]:
    # Shown on a screen, a dim LED still reads as its colour: keep a floor so 10 % is visible.
    factor = 0.25 + 0.75 * max(0, min(255, brightness)) / 255
    return (round(rgb[0] * factor), round(rgb[1] * factor), round(rgb[2] * factor))


def _parse_color(value: Any) -> tuple[int, int, int]:
    if isinstance(value, str) and len(value) == 7 and value.startswith("#"):
        try:
            return (int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16))
        except ValueError:
            pass
    return (255, 255, 255)


def strip_pixels(state: Mapping[str, Any], led_count: int) -> list[str]:
    """The approximate colour of each of `led_count` pixels for a shadow state."""
    count = max(1, min(led_count, MAX_STOPS))
    if not state.get("on"):
        return [OFF_COLOR] * count
    brightness = state.get("brightness", 128)
    brightness = brightness if isinstance(brightness, int) else 128
    kelvin = state.get("color_temp_k")
    base = (contract.white_rgb(kelvin) if isinstance(kelvin, int) and kelvin
            else _parse_color(state.get("color")))
    effect = str(state.get("effect", "solid")).lower()
    pixels = []
    for i in range(count):
        if effect in RAINBOW_EFFECTS:
            r, g, b = colorsys.hsv_to_rgb(i / count, 1.0, 1.0)
            rgb = (r * 255, g * 255, b * 255)
        elif effect in CHASE_EFFECTS and i % 3:
            rgb = (base[0] // 6, base[1] // 6, base[2] // 6)
        else:
            rgb = base
        pixels.append(_hex(_scale(rgb, brightness)))
    return pixels


# A frame holds LED drive levels after the firmware's gamma 2.8 (firmware/device/render.py);
# a screen expects perceptual values, so undo that curve before showing the colours.
_UNGAMMA = [round(255 * (i / 255) ** (1 / 2.8)) for i in range(256)]


def frame_pixels(frame: Sequence[Sequence[int]]) -> list[str]:
    """Sample a rendered frame ([[r, g, b], ...]) down to at most MAX_STOPS colours."""
    if not frame:
        return [OFF_COLOR]
    step = max(1, len(frame) / MAX_STOPS)
    picked = [frame[int(i * step)] for i in range(min(len(frame), MAX_STOPS))]
    # An unlit pixel on screen is the strip's dark body, not pure black.
    return [
        _hex([_UNGAMMA[max(0, min(255, int(c)))] for c in p[:3]]) if any(p[:3]) else OFF_COLOR
        for p in picked
    ]


def gradient(pixels: Sequence[str]) -> str:
    if len(set(pixels)) == 1:  # one colour (a solid look): two stops draw the same
        return f"linear-gradient(90deg, {pixels[0]}, {pixels[0]})"
    return "linear-gradient(90deg, " + ", ".join(pixels) + ")"


def strip_gradient(state: Mapping[str, Any], led_count: int) -> str:
    return gradient(state_pixels(state, led_count))


def state_pixels(state: Mapping[str, Any], led_count: int) -> list[str]:
    """strip_pixels, remembered: most lights of a home share a handful of looks."""
    key = tuple(state.get(k) for k in ("on", "brightness", "color", "color_temp_k", "effect"))
    try:
        return list(_cached_pixels(key, min(led_count, MAX_STOPS)))
    except TypeError:  # an unhashable value in a malformed reported state
        return strip_pixels(state, led_count)


@lru_cache(maxsize=4096)
def _cached_pixels(key: tuple, led_count: int) -> tuple[str, ...]:
    on, brightness, color, color_temp_k, effect = key
    state = {"on": on, "brightness": brightness, "color": color, "color_temp_k": color_temp_k,
             "effect": effect}
    return tuple(strip_pixels(state, led_count))


def frames_dir() -> Path | None:
    """Where simulated lights write `<thing>/frame.json`: $SMARTLIGHT_SIM_DIR (set but empty:
    nowhere), else in local mode the folder `make run` gives the simulator (var/lights)."""
    value = os.environ.get("SMARTLIGHT_SIM_DIR")
    if value is not None:
        return Path(value) if value else None
    from django.conf import settings

    default = Path(settings.BASE_DIR) / "var" / "lights"
    return default if settings.AWS_MODE == "local" and default.is_dir() else None


def read_frame(thing: str, base: Path | None = None) -> list[list[int]] | None:
    """The last frame a simulated light wrote, or None (no simulator, unreadable file)."""
    base = base or frames_dir()
    if base is None:
        return None
    try:
        data = json.loads((base / thing / "frame.json").read_text())
    except (OSError, ValueError):
        return None
    pixels = data.get("pixels") if isinstance(data, dict) else data
    if not isinstance(pixels, list):
        return None
    if not all(isinstance(p, list) and len(p) >= 3 for p in pixels):
        return None
    return pixels
