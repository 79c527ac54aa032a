# Heap allocated by the frame pipeline, MicroPython only: 100 frames of 150 LEDs per effect
# with the collector off, so every allocated byte shows in gc.mem_alloc().
import gc

import effects
import hostcheck
import neopixel
import render
from hostcheck import check

N = 150
FRAMES = 100


def measure(name, fade, identify, max_ma):
    strip = neopixel.NeoPixel(None, N)
    r = render.Renderer(N, strip, max_ma)
    r.set(True, 200, 255, 120, 40, name, 200, 0, 0)
    r.frame(0)
    now = 20
    if fade:
        r.set(True, 90, 10, 200, 255, name, 60, 60000, now)
    if identify:
        r.identify(now)
    r.frame(now)  # warm-up: first call paths done before counting
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(FRAMES):
        now += 20
        r.frame(now)
    after = gc.mem_alloc()
    gc.enable()
    return after - before


for _name in effects.NAMES:

    @check("alloc " + _name)
    def _():
        return {
            "plain": measure(_name, False, False, 0),
            "fading": measure(_name, True, False, 0),
            "limited": measure(_name, False, False, 500),
            "identify": measure(_name, False, True, 0),
        }


@check("alloc meter control")
def _():
    # The same meter must see a frame that does allocate (a float and a tuple a frame).
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    keep = []
    for i in range(FRAMES):
        keep.append(i * 0.5)
    after = gc.mem_alloc()
    gc.enable()
    return after - before


hostcheck.done()
