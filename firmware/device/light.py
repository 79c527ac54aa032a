# The light's state: the six shadow keys of the device contract (docs/device-contract.md), their
# validation, and how a change reaches the renderer. clean() is the firmware's copy of the
# platform's rules (smartlight/contract.py); both are run against smartlight/contract_cases.json.
import effects

KEYS = ("on", "brightness", "color", "effect", "speed", "transition_ms")
# Up to 15 minutes, for wake-up fades; (ms << 8) stays a small int on the ESP32 (< 2**30).
MAX_TRANSITION_MS = 900000

DEFAULT = {
    "on": True,
    "brightness": 128,
    "color": "#ffa050",
    "effect": "solid",
    "speed": 128,
    "transition_ms": 500,
}

_HEX = "0123456789abcdef"


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
    return None


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
        r, g, b = rgb(s["color"])
        if transition_ms is None:
            transition_ms = s["transition_ms"]
        self.renderer.set(
            s["on"], s["brightness"], r, g, b, s["effect"], s["speed"], transition_ms, now
        )

    def identify(self, now):
        self.renderer.identify(now)
