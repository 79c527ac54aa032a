# On-device check, run on a flashed board over USB (not uploaded as firmware):
#
#     mpremote connect /dev/ttyUSB0 run firmware/onboard/frame_check.py
#
# Drives the real strip on the configured pin through every effect and prints, per effect, the
# milliseconds a frame takes on this ESP32 (pipeline + NeoPixel write) and the bytes it
# allocates, then the free heap. Expect 0 bytes and well under 25 ms (40 fps) for 150 LEDs.
import gc
import time

import effects
import machine
import neopixel
import render
import store

FRAMES = 100

cfg = store.load_config("")
n = int(cfg["led_count"])
strip = neopixel.NeoPixel(machine.Pin(int(cfg["pin"]), machine.Pin.OUT), n)
r = render.Renderer(n, strip, int(cfg["max_ma"]))
print("leds", n, "pin", cfg["pin"], "max_ma", cfg["max_ma"])
for name in effects.NAMES:
    r.set(True, 64, 255, 140, 40, name, 160, 0, time.ticks_ms())
    r.frame(time.ticks_ms())
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    t0 = time.ticks_us()
    for _ in range(FRAMES):
        r.frame(time.ticks_ms())
    us = time.ticks_diff(time.ticks_us(), t0)
    allocated = gc.mem_alloc() - before
    gc.enable()
    print(name, "ms/frame", us // FRAMES / 1000, "bytes/frame", allocated // FRAMES)
r.set(False, 0, 0, 0, 0, "solid", 0, 0, time.ticks_ms())
r.frame(time.ticks_ms())
gc.collect()
print("heap free", gc.mem_free(), "power_ma last", r.power_ma)
