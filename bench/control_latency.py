"""Control latency: a change through the JSON API until the simulated light has rendered it.

    .venv/bin/python bench/control_latency.py [--changes 200] [--leds 60]

Path measured (docs/architecture.md, "Control"): PATCH /api/v1/devices/<code>/state (Django, full
middleware, auth, validation) → update_thing_shadow on localcloud's data-plane API → delta over
MQTT → the real firmware (`python -m firmware.sim`, its own process) renders the next frame,
seen in the frame.json the simulator writes for each new frame.

Floor: the same kind of change written straight to localcloud's data-plane API and received as
a delta by a bare MQTT client (paho). Floor and platform samples alternate, so both see the same
machine load. The ratio of the medians says what the platform and the firmware add on top of
the shadow service. Targets: p99 <= 100 ms, ratio <= 3.
"""

from __future__ import annotations

import argparse
import json
import queue
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COLORS = ["#ff0000", "#00ff00", "#0000ff"]  # one channel each: never power-limited
THING = "sl-00000000be01"
FLOOR_THING = "sl-00000000be02"


def rgb(color: str) -> list[int]:
    return [int(color[i : i + 2], 16) for i in (1, 3, 5)]


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return statistics.median(samples), cuts[94], cuts[98]


def line(name: str, samples: list[float]) -> str:
    p50, p95, p99 = percentiles(samples)
    return (f"{name:30} p50 {p50:7.2f} ms   p95 {p95:7.2f} ms   p99 {p99:7.2f} ms"
            f"   n={len(samples)}")


class PlatformPath:
    """Django's API in this process, the simulated light in its own."""

    def __init__(self, cloud, leds: int, state_dir: Path):
        from django.core.management import call_command
        from django.test import Client

        from accounts.actions import do_create_home
        from accounts.models import User
        from devices.models import Device

        call_command("migrate", verbosity=0, interactive=False)
        user = User.objects.create_user("bench@example.com", "x")
        home = do_create_home(user, "Bench Home")
        device = Device.objects.create(home=home, name="Bench strip", thing_name=THING)
        self.client = Client()
        self.client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        self.url = f"/api/v1/devices/{device.code}/state"
        # The simulator runs as `make run` runs it: its own process (and GIL), writing each
        # new frame to frame.json (--frame-file-ms 1), which this process watches.
        self.sim = subprocess.Popen(
            [sys.executable, "-m", "firmware.sim", "--things", THING, "--led-counts", str(leds),
             "--broker", cloud.mqtt_url, "--state-dir", str(state_dir), "--frame-file-ms", "1"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.frame_file = state_dir / THING / "frame.json"
        for out in self.sim.stdout:
            if out.strip() == "sim ready":
                break
        else:
            raise SystemExit("the simulator did not start")
        # Full brightness and no fade, so a colour change is one frame.
        self.patch({"on": True, "brightness": 255, "effect": "solid", "transition_ms": 0,
                    "color": COLORS[-1]})
        if not self.rendered(rgb(COLORS[-1]), 10):
            raise SystemExit("the simulated light did not render the first change")

    def patch(self, body: dict) -> None:
        response = self.client.patch(self.url, json.dumps(body),
                                     content_type="application/json")
        if response.status_code != 200:
            raise SystemExit(f"PATCH answered {response.status_code}: {response.content!r}")

    def sample(self, color: str) -> tuple[float, float]:
        """(ms until rendered, ms until the API answered) for one colour change."""
        start = time.perf_counter()
        self.patch({"color": color})
        answered = time.perf_counter()
        if not self.rendered(rgb(color), 5):
            raise SystemExit(f"{color} was not rendered within 5 s")
        return (time.perf_counter() - start) * 1000, (answered - start) * 1000

    def rendered(self, want: list[int], timeout: float) -> bool:
        """Wait until the light's frame.json shows `want` on its first and last LED."""
        deadline = time.perf_counter() + timeout
        seen = None
        while time.perf_counter() < deadline:
            try:
                stamp = self.frame_file.stat().st_mtime_ns
                if stamp != seen:
                    seen = stamp
                    pixels = json.loads(self.frame_file.read_text())["pixels"]
                    if pixels and pixels[0] == want and pixels[-1] == want:
                        return True
            except (OSError, ValueError, KeyError):
                pass  # replaced between stat and read: look again
            time.sleep(0.0005)
        return False

    def close(self) -> None:
        self.sim.kill()
        self.sim.wait(10)


class FloorPath:
    """A data-plane update and the delta it causes, seen by a bare MQTT client."""

    def __init__(self, cloud):
        import paho.mqtt.client as mqtt

        self.deltas: queue.Queue[float] = queue.Queue()
        subscribed: queue.Queue = queue.Queue()
        self.mqtt = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=FLOOR_THING)
        self.mqtt.on_message = lambda c, u, msg: self.deltas.put(time.perf_counter())
        self.mqtt.on_subscribe = lambda c, u, mid, codes, props: subscribed.put(codes)
        self.mqtt.connect(cloud.mqtt_host, cloud.mqtt_port, keepalive=30)
        self.mqtt.loop_start()
        self.mqtt.subscribe(f"$aws/things/{FLOOR_THING}/shadow/update/delta", qos=1)
        subscribed.get(timeout=10)
        self.iot = cloud.client("iot-data")

    def sample(self, color: str) -> float:
        # Desired changes and reported stays empty, so every update makes a delta.
        payload = json.dumps({"state": {"desired": {"color": color}}}).encode()
        start = time.perf_counter()
        self.iot.update_thing_shadow(thingName=FLOOR_THING, payload=payload)
        return (self.deltas.get(timeout=5) - start) * 1000

    def close(self) -> None:
        self.mqtt.loop_stop()
        self.mqtt.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--leds", type=int, default=60)
    args = parser.parse_args()

    from inprocess import start_platform

    from localcloud.testing import LocalCloud

    with LocalCloud() as cloud, tempfile.TemporaryDirectory() as tmp:
        start_platform(cloud)
        platform, floor = PlatformPath(cloud, args.leds, Path(tmp)), FloorPath(cloud)
        rendered, answered, deltas = [], [], []
        try:
            for i in range(args.changes):
                color = COLORS[i % len(COLORS)]
                deltas.append(floor.sample(color))
                total, api = platform.sample(color)
                rendered.append(total)
                answered.append(api)
        finally:
            platform.close()
            floor.close()

    ratio = statistics.median(rendered) / statistics.median(deltas)
    print(f"changes: {args.changes}, LEDs: {args.leds} (floor and platform samples alternate)")
    print(line("API -> rendered frame:", rendered))
    print(line("  of which the API's answer:", answered))
    print(line("floor (data plane -> delta):", deltas))
    print(f"ratio of medians: {ratio:.2f}")
    p99 = percentiles(rendered)[2]
    print(f"targets: p99 <= 100 ms: {'yes' if p99 <= 100 else 'NO'};"
          f" ratio <= 3: {'yes' if ratio <= 3 else 'NO'}")


if __name__ == "__main__":
    main()
