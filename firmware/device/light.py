# The light's state: the six shadow keys of the device contract (docs/device-contract.md), their
# validation, and how a change reaches the renderer. clean() is the firmware's copy of the
# platform's rules (smartlight/contract.py); both are run against smartlight/contract_cases.json.
import effects

KEYS = ("on", "brightness", "color", "color_temp_k", "effect", "speed", "transition_ms")
# Up to 15 minutes, for wake-up fades; (ms << 8) stays a small int on the ESP32 (< 2**30).
MAX_TRANSITION_MS = 900000

DEFAULT = {
    "on": True,
    "brightness": 128,
    "color": "#ffa050",
    "color_temp_k": 0,  # 0: the colour is shown; else a white of this many kelvin
    "effect": "solid",
    "speed": 128,
    "transition_ms": 500,
}

_HEX = "0123456789abcdef"

# color_temp_k: the white a strip shows for each temperature from KELVIN_MIN in WHITE_STEP
# steps, as r, g, b bytes (the blackbody's colour in sRGB; the frame pipeline's gamma maps it
# to LED duty). The platform holds the same table (smartlight/contract.py, WHITES).
KELVIN_MIN = 2200
KELVIN_MAX = 6500
WHITE_STEP = 100
WHITES = bytes((
    255, 146, 39, 255, 151, 50, 255, 155, 61, 255, 159, 70, 255, 163, 79, 255, 167, 87,
    255, 170, 95, 255, 174, 103, 255, 177, 110, 255, 180, 117, 255, 184, 123, 255, 187, 129,
    255, 190, 135, 255, 193, 141, 255, 195, 146, 255, 198, 151, 255, 201, 157, 255, 203, 161,
    255, 206, 166, 255, 208, 171, 255, 211, 175, 255, 213, 179, 255, 215, 183, 255, 218, 187,
    255, 220, 191, 255, 222, 195, 255, 224, 199, 255, 226, 202, 255, 228, 206, 255, 230, 209,
    255, 232, 213, 255, 234, 216, 255, 236, 219, 255, 237, 222, 255, 239, 225, 255, 241, 228,
    255, 243, 231, 255, 244, 234, 255, 246, 237, 255, 248, 240, 255, 249, 242, 255, 251, 245,
    255, 253, 248, 255, 254, 250,
))


def _int_in(value, lo, hi):
    # JSON true/false are ints in Python; a brightness of `true` is a bad document. JSON does
    # not tell 128 from 128.0, so a float without a fraction counts (the range is checked
    # first: int() of NaN or infinity raises).
    t = type(value)
    if t is float:
        if not lo <= value <= hi or value != int(value):
            return None
        return int(value)
    if t is not int or value < lo or value > hi:
        return None
    return value


def clean(key, value):
    """The value the light would show for `key`, or None when the value is not acceptable."""
    if key == "on":
        return value if type(value) is bool else None
    if key == "brightness" or key == "speed":
        return _int_in(value, 0, 255)
    if key == "transition_ms":
        return _int_in(value, 0, MAX_TRANSITION_MS)
    if key == "color":
        if type(value) is not str or len(value) != 7 or value[0] != "#":
            return None
        value = value.lower()
        for c in value[1:]:
            if c not in _HEX:
                return None
        return value
    if key == "effect":
        return value if type(value) is str and effects.index(value) >= 0 else None
    if key == "color_temp_k":
        return _int_in(value, KELVIN_MIN, KELVIN_MAX)
    return None


def white_rgb(kelvin):
    """The r, g, b of a white, interpolated between the table's steps (small ints only)."""
    i, rest = divmod(kelvin - KELVIN_MIN, WHITE_STEP)
    i *= 3
    if rest == 0:
        return WHITES[i], WHITES[i + 1], WHITES[i + 2]
    h = WHITE_STEP // 2
    return (
        WHITES[i] + ((WHITES[i + 3] - WHITES[i]) * rest + h) // WHITE_STEP,
        WHITES[i + 1] + ((WHITES[i + 4] - WHITES[i + 1]) * rest + h) // WHITE_STEP,
        WHITES[i + 2] + ((WHITES[i + 5] - WHITES[i + 2]) * rest + h) // WHITE_STEP,
    )


def rgb(color):
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


class Light:
    def __init__(self, renderer, state=None):
        self.renderer = renderer
        self.state = dict(DEFAULT)
        if state:
            self.update(state)
        self.changes = 0  # bumped on every applied change (persistence watches it)

    def update(self, doc):
        """Take the acceptable known keys of doc into the state; return the number changed.

        Unknown keys and bad values are ignored (docs/device-contract.md: the device never
        crashes on a bad document and reports what it really shows).
        """
        if type(doc) is not dict:
            return 0
        changed = 0
        for key in KEYS:
            if key in doc:
                value = clean(key, doc[key])
                if value is not None and self.state[key] != value:
                    self.state[key] = value
                    changed += 1
        # The latest of colour and white wins: a document with a temperature shows that white
        # (even beside a colour); one with only a colour returns to the colour.
        if (self.state["color_temp_k"] and "color" in doc
                and clean("color", doc["color"]) is not None
                and clean("color_temp_k", doc.get("color_temp_k")) is None):
            self.state["color_temp_k"] = 0
            changed += 1
        return changed

    def apply(self, doc, now):
        """update() and, when something changed, start the fade to the new look."""
        changed = self.update(doc)
        if changed:
            self.changes += 1
            self.show(now)
        return changed

    def show(self, now, transition_ms=None):
        s = self.state
        r, g, b = white_rgb(s["color_temp_k"]) if s["color_temp_k"] else rgb(s["color"])
        if transition_ms is None:
            transition_ms = s["transition_ms"]
        self.renderer.set(
            s["on"], s["brightness"], r, g, b, s["effect"], s["speed"], transition_ms, now
        )

    def identify(self, now):
        self.renderer.identify(now)
