"""python -m firmware.sim: simulated lights running the real firmware on CPython.

    python -m firmware.sim --count 3 --broker mqtt://127.0.0.1:18830 --state-dir var/lights
    python -m firmware.sim --things sl-00000000d030,sl-00000000d060 --led-counts 30,60 ...
    python -m firmware.sim --device-dir path/to/provisioned/folder [--broker ...]

Prints `sim <thing> connected` on every connection and `sim ready` once all lights have
connected. SIGTERM/SIGINT save each light's state and exit without an MQTT DISCONNECT, like a
power cut: the broker publishes every light's Last Will.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading

from firmware.sim.fleet import Broker, Fleet, SimLight

THING_RE = re.compile(r"^sl-[0-9a-f]{12}$")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m firmware.sim", description=__doc__.split("\n")[0])
    p.add_argument("--count", type=int, help="number of lights (default: --things, or 1)")
    p.add_argument("--broker", help="mqtt://[user:pass@]host:port or mqtts://...")
    p.add_argument("--username", help="MQTT username (devices normally connect without one)")
    p.add_argument("--password", help="MQTT password")
    p.add_argument("--state-dir", help="one folder per light, named after its thing")
    p.add_argument("--device-dir", help="run one light from a provisioned folder")
    p.add_argument("--things", help="comma-separated thing names to run (sl- + 12 hex)")
    p.add_argument("--led-counts", help="comma-separated LED counts for new lights, in order")
    p.add_argument("--max-ma", type=int, default=2000, help="power budget of new lights (mA)")
    p.add_argument("--frame-file-ms", type=int, default=100, help="frame.json refresh period")
    p.add_argument("--verbose", action="store_true", help="print the firmware's log lines")
    args = p.parse_args(argv)
    if bool(args.state_dir) == bool(args.device_dir):
        p.error("give exactly one of --state-dir and --device-dir")
    if args.things:
        args.things = [t.strip() for t in args.things.split(",") if t.strip()]
        bad = [t for t in args.things if not THING_RE.match(t)]
        if bad:
            p.error(f"not thing names (sl- + 12 lowercase hex): {', '.join(bad)}")
        if args.count is not None and args.count != len(args.things):
            p.error("--count and the number of --things differ")
    if args.led_counts:
        try:
            args.led_counts = [int(n) for n in args.led_counts.split(",")]
        except ValueError:
            p.error("--led-counts takes integers, e.g. 30,60,150")
        if any(n < 1 or n > 2000 for n in args.led_counts):
            p.error("LED counts must be 1..2000")
    if args.count is not None and args.count < 1:
        p.error("--count must be at least 1")
    if args.state_dir and not args.broker:
        p.error("--state-dir needs --broker")
    if args.broker:
        try:
            args.broker = Broker(args.broker, args.username, args.password)
        except ValueError as e:
            p.error(str(e))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    lock = threading.Lock()
    seen: set[str] = set()
    ready = threading.Event()

    def say(line: str) -> None:
        with lock:
            print(line, flush=True)

    def log(line: str) -> None:
        if args.verbose:
            say("fw " + line)

    def on_connect(light: SimLight) -> None:
        say(f"sim {light.thing} connected")
        with lock:
            seen.add(light.thing)
            done = len(seen) == len(fleet.lights) and not ready.is_set()
            if done:
                ready.set()
        if done:
            say("sim ready")

    if args.device_dir:
        fleet = Fleet.from_device_dir(args.device_dir, args.broker, log, on_connect)
    else:
        count = args.count if args.count is not None else (None if args.things else 1)
        fleet = Fleet.in_state_dir(
            args.state_dir,
            count=count,
            broker=args.broker,
            things=args.things,
            led_counts=args.led_counts,
            max_ma=args.max_ma,
            log=log,
            on_connect=on_connect,
            frame_file_ms=args.frame_file_ms,
        )
    for light in fleet.lights.values():
        say(f"sim {light.thing} {light.led_count} leds in {light.folder}")

    def power_cut(signum: int, frame: object) -> None:
        # Save what each light shows, then vanish without DISCONNECT: the LWT tells the cloud.
        for light in fleet.lights.values():
            try:
                light.flush()
            except Exception as e:  # noqa: BLE001 (exiting anyway)
                say(f"sim {light.thing} could not save: {e!r}")
        sys.stdout.flush()
        os._exit(0)

    signal.signal(signal.SIGTERM, power_cut)
    signal.signal(signal.SIGINT, power_cut)
    fleet.start()
    threading.Event().wait()  # the lights run in their threads until a signal arrives
    return 0


if __name__ == "__main__":
    sys.exit(main())
