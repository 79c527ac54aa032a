# LED effects. Each one fills `fx` (RGB, 3 bytes a pixel, before brightness and gamma) from the
# base colour and the phase; `aux` is one byte of memory a pixel for effects that need it.
#
# Everything here runs once a frame, so it must not allocate: integer math only (floats are
# boxed on the ESP32 port), no tuples, slices, closures or generators, and every intermediate
# value stays below 2**30 so it remains a small int.
import math

# Effect names in the order the platform shows them (`reported.effects`); "solid" is first
# and always present (docs/device-contract.md).
NAMES = ("solid", "breathe", "rainbow", "chase", "twinkle", "candle", "colorloop")

# Quarter-wave based sine, 0..255, computed once at import (floats are fine here).
SINE = bytes(int(127.5 + 127.5 * math.sin(2 * math.pi * i / 256)) for i in range(256))

_seed = 0xACE1


def seed(value):
    # xorshift16 state must never be 0 (it would stay 0 forever).
    global _seed
    _seed = (value & 0xFFFF) or 0xACE1


def rand8():
    # xorshift16 (Marsaglia 2003): 16-bit state keeps every step a small int.
    global _seed
    x = _seed
    x ^= (x << 7) & 0xFFFF
    x ^= x >> 9
    x ^= (x << 8) & 0xFFFF
    _seed = x
    return x & 0xFF


def hue(fx, j, h):
    # Fully saturated colour wheel in six 43-step sectors, written straight into fx[j:j+3]
    # (returning a tuple would allocate).
    h &= 0xFF
    sector = h // 43
    up = (h - sector * 43) * 6
    down = 255 - up
    if sector == 0:
        fx[j] = 255
        fx[j + 1] = up
        fx[j + 2] = 0
    elif sector == 1:
        fx[j] = down
        fx[j + 1] = 255
        fx[j + 2] = 0
    elif sector == 2:
        fx[j] = 0
        fx[j + 1] = 255
        fx[j + 2] = up
    elif sector == 3:
        fx[j] = 0
        fx[j + 1] = down
        fx[j + 2] = 255
    elif sector == 4:
        fx[j] = up
        fx[j + 1] = 0
        fx[j + 2] = 255
    else:
        fx[j] = 255
        fx[j + 1] = 0
        fx[j + 2] = down


def solid(fx, aux, n, r, g, b, p, dt, speed):
    for j in range(0, n * 3, 3):
        fx[j] = r
        fx[j + 1] = g
        fx[j + 2] = b


def breathe(fx, aux, n, r, g, b, p, dt, speed):
    # Never fully dark: a breathing light that goes black reads as "off".
    lvl = 24 + (SINE[p] * 232 >> 8)
    r = r * lvl >> 8
    g = g * lvl >> 8
    b = b * lvl >> 8
    for j in range(0, n * 3, 3):
        fx[j] = r
        fx[j + 1] = g
        fx[j + 2] = b


def rainbow(fx, aux, n, r, g, b, p, dt, speed):
    # One full wheel spread over the strip, scrolling with the phase; ignores the colour.
    for i in range(n):
        hue(fx, i * 3, p + (i << 8) // n)


def colorloop(fx, aux, n, r, g, b, p, dt, speed):
    hue(fx, 0, p)
    r = fx[0]
    g = fx[1]
    b = fx[2]
    for j in range(3, n * 3, 3):
        fx[j] = r
        fx[j + 1] = g
        fx[j + 2] = b


def chase(fx, aux, n, r, g, b, p, dt, speed):
    # A comet with an 8-pixel tail running along the strip once a phase cycle.
    head = p * n >> 8
    for i in range(n):
        d = head - i
        if d < 0:
            d += n
        j = i * 3
        if d < 8:
            lvl = 255 - d * 32
            fx[j] = r * lvl >> 8
            fx[j + 1] = g * lvl >> 8
            fx[j + 2] = b * lvl >> 8
        else:
            fx[j] = 0
            fx[j + 1] = 0
            fx[j + 2] = 0


def twinkle(fx, aux, n, r, g, b, p, dt, speed):
    # Sparks light at random and fade; faster speed means more sparks and quicker decay.
    decay = (dt * (8 + speed)) >> 5
    if decay < 1:
        decay = 1
    chance = 2 + (speed >> 3)
    for i in range(n):
        a = aux[i]
        a = a - decay if a > decay else 0
        if rand8() < chance and rand8() < 64:
            a = 255
        aux[i] = a
        lvl = 40 + (a * 215 >> 8)
        j = i * 3
        fx[j] = r * lvl >> 8
        fx[j + 1] = g * lvl >> 8
        fx[j + 2] = b * lvl >> 8


def candle(fx, aux, n, r, g, b, p, dt, speed):
    # Each pixel drifts towards a new random flame level; speed sets how often it jumps.
    jump = 4 + (speed >> 2)
    for i in range(n):
        a = aux[i]
        if rand8() < jump:
            target = 96 + (rand8() * 159 >> 8)
            a += (target - a) >> 1
        if a < 96:
            a = 96
        aux[i] = a
        j = i * 3
        fx[j] = r * a >> 8
        fx[j + 1] = g * a >> 8
        fx[j + 2] = b * a >> 8


FUNCTIONS = (solid, breathe, rainbow, chase, twinkle, candle, colorloop)


def index(name):
    """Position of an effect in NAMES, or -1 when the firmware does not know it."""
    for i in range(len(NAMES)):
        if NAMES[i] == name:
            return i
    return -1
