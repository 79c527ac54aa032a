# Millisecond ticks with MicroPython semantics on every runtime.
#
# On the board (and under MicroPython in Node) these are the `time` module's own functions.
# The CPython fallback mirrors their documented behaviour: ticks wrap at 2**30 so every value
# stays a small int (no heap allocation on a 32-bit port) and ticks_diff() answers the signed
# distance within half a period (docs.micropython.org, "time.ticks_diff").
import time

try:
    ticks_ms = time.ticks_ms
    ticks_diff = time.ticks_diff
    ticks_add = time.ticks_add
    sleep_ms = time.sleep_ms
except AttributeError:  # CPython: simulator and host tests
    _PERIOD = 1 << 30
    _HALF = 1 << 29
    _mono = time.monotonic_ns  # type: ignore[attr-defined]  # CPython's, not on the board

    def ticks_ms():
        return (_mono() // 1000000) & (_PERIOD - 1)

    def ticks_diff(a, b):
        return ((a - b + _HALF) & (_PERIOD - 1)) - _HALF

    def ticks_add(a, delta):
        return (a + delta) & (_PERIOD - 1)

    def sleep_ms(ms):
        time.sleep(ms / 1000)
