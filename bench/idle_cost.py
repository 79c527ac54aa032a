"""Idle cost: AWS-billable operations per light per idle hour, and the monthly bill per light.

    .venv/bin/python bench/idle_cost.py [--rev 7120ec0] [--hours 1] [--speed 120]

One simulated light (the real firmware, firmware/sim) connects to localcloud and sits idle
(nobody changes its shadow) for `--hours` of firmware time. The firmware's clock runs `--speed`
times faster than the wall clock (its ticks and every sleep of its loop and MQTT client), so an
hour takes 30 s at the default speed. `--rev REV` runs the firmware of that git revision
instead of this checkout's (to measure a change before and after).

Counted at the broker, by a service client subscribed to the light's topics:
- messages: PUBLISH packets the light sends plus those delivered to it (AWS IoT meters both, in
  5 KB units; PINGREQ/PINGRESP, CONNACK, SUBACK and the service's PUBACK are free);
- shadow operations: the light's update and get requests;
- rule triggers: update/documents events (the rule that forwards shadow changes to SQS fires
  once per document), each one rule action and one SQS message the platform then receives and
  deletes (three SQS requests).

Prices (AWS public list prices, US East (N. Virginia), first tier, no free tier):
messaging $1.00 per million messages, Device Shadow $1.25 per million operations, rules engine
$0.15 per million rules triggered + $0.15 per million actions, connectivity $0.08 per million
connection-minutes, SQS standard $0.40 per million requests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from localcloud.testing import LocalCloud  # noqa: E402

PRICE = {
    "message": 1.00 / 1e6,
    "shadow_op": 1.25 / 1e6,
    "rule": 0.15 / 1e6,
    "action": 0.15 / 1e6,
    "connect_minute": 0.08 / 1e6,
    "sqs_request": 0.40 / 1e6,
}
HOURS_PER_MONTH = 730

# Runs in a subprocess so that each firmware revision imports its own modules.
RUNNER = r"""
import json, sys, time
sys.path.insert(0, {root!r})
speed = {speed}
import firmware.sim.fleet as fleet_mod
fleet_mod.device_modules()
import clock
real = time.monotonic_ns
start = real()
# The firmware's clock, K times faster: ticks (CPython fallback) and the sleeps built on it.
clock._mono = lambda: start + (real() - start) * speed
clock.sleep_ms = lambda ms: time.sleep(ms / 1000 / speed)
try:
    import asyncio, mqtt  # this firmware's own client: its waits, K times shorter
    mqtt.sleep_ms = lambda ms: asyncio.sleep(ms / 1000 / speed)
except ImportError:
    pass  # an older firmware on umqtt.simple: its loop sleeps through clock.sleep_ms
lines = []
fleet = fleet_mod.Fleet.in_state_dir(
    {state!r}, things=[{thing!r}], broker={broker!r}, log=lines.append
)
fleet.start()
if not fleet.wait_connected(30):
    print("not connected:", lines[-3:], flush=True)
    sys.exit(1)
print("connected", flush=True)
time.sleep({seconds})
light = fleet.lights[{thing!r}]
print(json.dumps({{"connections": light.connections, "restarts": light.restarts}}), flush=True)
import os
os._exit(0)  # a power cut: no DISCONNECT
"""


def firmware_tree(rev: str | None, tmp: Path) -> Path:
    """The folder holding a `firmware` package: this checkout, or `rev` extracted."""
    if rev is None:
        return ROOT
    data = subprocess.run(
        ["git", "archive", "--format=tar", rev, "firmware"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout  # fmt: skip
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(tmp, filter="data")
    return tmp


class Counter:
    """A service client on the light's topics, counting what the broker routes."""

    def __init__(self, cloud: LocalCloud, thing: str) -> None:
        import paho.mqtt.client as paho

        self.thing = thing
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()
        user, password = cloud.service_credentials
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="idle-cost-counter")
        client.username_pw_set(user, password)
        client.on_message = self._on_message
        subscribed = threading.Event()
        client.on_subscribe = lambda *args: subscribed.set()
        client.connect(cloud.mqtt_host, cloud.mqtt_port, keepalive=60)
        client.loop_start()
        client.subscribe([(f"$aws/things/{thing}/shadow/#", 1), (f"smartlight/{thing}/#", 1)])
        if not subscribed.wait(10):
            raise RuntimeError("the counter could not subscribe")
        self.client = client

    def _on_message(self, client, userdata, message) -> None:
        suffix = message.topic.split(f"{self.thing}/", 1)[1]
        with self.lock:
            self.counts[suffix] = self.counts.get(suffix, 0) + 1

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return dict(self.counts)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def billable(counts: dict[str, int]) -> dict[str, float]:
    sent = counts.get("shadow/update", 0) + counts.get("shadow/get", 0)
    # delivered to the light: what it subscribes to
    received = sum(
        counts.get(t, 0)
        for t in ("shadow/update/delta", "shadow/get/accepted", "shadow/get/rejected", "cmd")
    )
    rules = counts.get("shadow/update/documents", 0)
    return {
        "messages": sent + received,
        "shadow_ops": sent,
        "rule_triggers": rules,
        "sqs_requests": rules * 3,
    }


def monthly_cost(per_hour: dict[str, float]) -> dict[str, float]:
    h = HOURS_PER_MONTH
    cost = {
        "messaging": per_hour["messages"] * h * PRICE["message"],
        "shadow": per_hour["shadow_ops"] * h * PRICE["shadow_op"],
        "rules": per_hour["rule_triggers"] * h * (PRICE["rule"] + PRICE["action"]),
        "sqs": per_hour["sqs_requests"] * h * PRICE["sqs_request"],
        "connectivity": 60 * h * PRICE["connect_minute"],
    }
    cost["total"] = sum(cost.values())
    return cost


def measure(rev: str | None, hours: float, speed: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="idle-cost-") as tmp, LocalCloud(moto=False) as cloud:
        tree = firmware_tree(rev, Path(tmp) / "tree")
        thing = "sl-" + os.urandom(6).hex()
        counter = Counter(cloud, thing)
        warmup = 10 / speed * 60  # let the connect-time report settle before the idle hour
        seconds = hours * 3600 / speed
        script = RUNNER.format(
            root=str(tree), speed=int(speed), state=str(Path(tmp) / "lights"), thing=thing,
            broker=cloud.mqtt_url, seconds=warmup + seconds,
        )  # fmt: skip
        proc = subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, cwd=tmp,
        )  # fmt: skip
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if line != "connected":
            raise RuntimeError(f"the light did not start: {line} {proc.stderr.read()[-2000:]}")
        time.sleep(warmup)
        at_start = counter.snapshot()
        time.sleep(seconds)
        at_end = counter.snapshot()
        out, err = proc.communicate(timeout=60)
        counter.close()
        idle = {k: at_end.get(k, 0) - at_start.get(k, 0) for k in at_end}
        per_hour = {k: v / hours for k, v in billable(idle).items()}
        return {
            "rev": rev or "this checkout",
            "idle_topics_per_hour": {k: v / hours for k, v in sorted(idle.items()) if v},
            "per_hour": per_hour,
            "monthly_usd": monthly_cost(per_hour),
            "light": json.loads(out.strip().splitlines()[-1]) if out.strip() else err[-500:],
        }


def report(result: dict) -> None:
    p = result["per_hour"]
    c = result["monthly_usd"]
    print(f"firmware: {result['rev']}")
    print(f"  per idle light-hour: {p['messages']:.1f} messages, {p['shadow_ops']:.1f} shadow "
          f"operations, {p['rule_triggers']:.1f} rule triggers, {p['sqs_requests']:.1f} SQS "
          f"requests")  # fmt: skip
    print(f"  topics per hour: {result['idle_topics_per_hour']}")
    print(f"  monthly per light ({HOURS_PER_MONTH} h): messaging ${c['messaging']:.6f}, shadow "
          f"${c['shadow']:.6f}, rules ${c['rules']:.6f}, SQS ${c['sqs']:.6f}, connectivity "
          f"${c['connectivity']:.6f}; total ${c['total']:.6f}"
          f" (${c['total'] * 1000:.2f} per 1,000 lights)")  # fmt: skip
    print(f"  light: {result['light']}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rev", action="append", help="git revision(s) to measure too, e.g. main")
    p.add_argument("--hours", type=float, default=1.0)
    p.add_argument("--speed", type=int, default=120)
    args = p.parse_args()
    print(f"idle {args.hours} h per light, firmware clock x{args.speed:g}, through localcloud")
    for rev in [*(args.rev or []), None]:
        report(measure(rev, args.hours, args.speed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
