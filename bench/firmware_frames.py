"""Firmware figures under real MicroPython (WebAssembly in Node) and through the simulator.

    .venv/bin/python bench/firmware_frames.py [--updates 200]

Prints, for 150 LEDs: ms per frame for every effect, bytes allocated per frame (target 0),
heap in use after importing every device module from .py and from .mpy (target < 40 KB), and,
when localcloud is importable, desired-update -> rendered-frame latency p50/p99 through the
simulator (a light in-process, localcloud in a subprocess, updates via boto3 iot-data).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from firmware.host import harness  # noqa: E402

FRAMES = 200
LEDS = 150

FRAME_SCRIPT = f"""
import gc, json, time
import effects, neopixel, render
out = {{}}
for name in effects.NAMES:
    strip = neopixel.NeoPixel(None, {LEDS})
    r = render.Renderer({LEDS}, strip, 4000)
    r.set(True, 200, 255, 120, 40, name, 160, 0, 0)
    now = 0
    for _ in range(50):  # warm-up: the host's WebAssembly JIT settles first
        now += 20
        r.frame(now)
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    t0 = time.ticks_us()
    for _ in range({FRAMES}):
        now += 20
        r.frame(now)
    us = time.ticks_diff(time.ticks_us(), t0)
    a1 = gc.mem_alloc()
    gc.enable()
    out[name] = {{"ms": us / 1000 / {FRAMES}, "bytes": (a1 - a0) / {FRAMES}}}
print("@@RESULT " + json.dumps(out))
"""


def micropython_figures() -> None:
    frames = harness.run_micropython(FRAME_SCRIPT)
    print(f"MicroPython (WebAssembly) frame pipeline, {LEDS} LEDs, {FRAMES} frames per effect")
    print(f"  {'effect':<10} {'ms/frame':>9} {'B/frame':>8}")
    for name, v in frames.items():
        print(f"  {name:<10} {v['ms']:>9.3f} {v['bytes']:>8.1f}")
    worst = max(v["ms"] for v in frames.values())
    print(f"  slowest effect: {worst:.3f} ms/frame ({1000 / worst:.0f} fps possible on this host)")
    heap = (ROOT / "firmware" / "tests" / "checks" / "heap.py").read_text()
    for label, mpy in (("py", False), ("mpy", True)):
        used = harness.run_micropython(heap, mpy=mpy)["heap after import"]["value"]
        print(f"heap in use after importing all device modules ({label}): {used / 1024:.1f} KB")


def latency_figures(updates: int) -> None:
    if updates <= 0:
        return
    try:
        from localcloud.testing import LocalCloud
    except ImportError:
        print("latency: localcloud is not importable, skipped")
        return
    import tempfile

    from firmware.sim.fleet import Fleet

    thing = "sl-be0c00000001"
    with tempfile.TemporaryDirectory() as tmp, LocalCloud(moto=False) as cloud:
        # A budget the frames never reach, so the limiter leaves 255 at 255 and the bench can
        # recognise the colour byte for byte.
        fleet = Fleet.in_state_dir(
            tmp, things=[thing], broker=cloud.mqtt_url, led_counts=[LEDS], max_ma=100000
        )
        iot = cloud.client("iot-data")
        with fleet:
            if not fleet.wait_connected(15):
                print("latency: the simulated light did not connect")
                return
            light = fleet.lights[thing]
            frames = light.frames
            assert frames is not None
            seen = threading.Event()
            target: dict[str, bytes] = {}

            def listener(data: bytes, seq: int) -> None:
                want = target.get("grb")
                if want is not None and data[:3] == want:
                    seen.set()

            frames.listeners.append(listener)
            samples = []
            rng = random.Random(7)
            last = (0, 0, 0)
            for i in range(updates):
                # Distinct, fully saturated colours: gamma keeps 0 and 255 exact.
                r, g, b = rng.choice([(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)])
                if (r, g, b) == last:
                    r, g, b = b, r, g
                last = (r, g, b)
                color = f"#{r:02x}{g:02x}{b:02x}"
                seen.clear()
                target["grb"] = bytes([g, r, b])
                payload = {
                    "state": {
                        "desired": {
                            "color": color, "brightness": 255, "on": True, "transition_ms": 0,
                            "effect": "solid",
                        }
                    }
                }  # fmt: skip
                t0 = time.perf_counter()
                iot.update_thing_shadow(thingName=thing, payload=json.dumps(payload).encode())
                if not seen.wait(5):
                    print(f"latency: update {i} never rendered")
                    return
                samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    p50 = statistics.median(samples)
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(
        f"desired update -> rendered frame via localcloud + simulator ({len(samples)} updates, "
        f"{LEDS} LEDs): p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {samples[-1]:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=200)
    args = parser.parse_args()
    micropython_figures()
    latency_figures(args.updates)


if __name__ == "__main__":
    main()
