"""Shadow-events consumer throughput: messages applied per second by one process.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/smartlight \
        .venv/bin/python bench/consumer.py [--messages 3000] [--lights 100,1000,10000]

For each number of lights: a throwaway database (`bench_consumer_<name>` beside DATABASE_URL's,
made and dropped by Django's test-database machinery; SQLite in memory without DATABASE_URL)
with that many lights, a queue filled with `/update/documents` messages (the shape of the
smartlight_shadow_events rule, each for a random light with a new version) on a moto server in
its own process,
then the consumer's own loop (`Consumer.poll_once`: ReceiveMessage of 10, parse and clean each
message, one transaction per batch, DeleteMessageBatch) until the queue is
empty. The queue is filled and drained in rounds of 200 (moto's queue gets slower as it grows).
Printed per run:
- messages per CPU second of the consumer process (the boto3 calls, parsing, cleaning and the
  database client): what one process can sustain when neither SQS nor the database is the limit;
- messages/s of the database part alone (wall clock of `apply_events`), which is what grows with
  the number of lights;
- messages/s end to end (wall), which on this machine mostly measures moto.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartlight.settings")
os.environ["SMARTLIGHT_AWS_MODE"] = "local"
if not os.environ.get("DATABASE_URL"):
    os.environ["SQLITE_PATH"] = ":memory:"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


MOTO_PORT = _free_port()
os.environ["MOTO_ENDPOINT_URL"] = f"http://127.0.0.1:{MOTO_PORT}"

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

QUEUE = "bench-shadow-events"
T0 = 1_790_000_000


def start_moto() -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(MOTO_PORT)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", MOTO_PORT), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("moto server did not start")


def message(thing: str, version: int, rng: random.Random) -> str:
    reported = {
        "on": rng.random() < 0.5, "brightness": rng.randrange(256), "color": "#ff8800",
        "effect": "solid", "speed": 128, "transition_ms": 500, "connected": True,
        "fw": "1.4.0", "led_count": 30, "max_ma": 850, "power_ma": rng.randrange(900),
        "effects": ["solid", "breathe", "rainbow", "chase", "twinkle", "candle", "colorloop"],
        "rssi": -60, "heap_free": 80000, "uptime_s": version,
    }
    meta = {"reported": {k: {"timestamp": T0 + version} for k in reported}}
    return json.dumps({
        "previous": {"state": {}, "metadata": {}, "version": version - 1},
        "current": {"state": {"reported": reported, "desired": {"on": reported["on"]}},
                    "metadata": meta, "version": version},
        "timestamp": T0 + version,
        "thing": thing,
    })


def bodies(things: list[str], count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    versions = dict.fromkeys(things, 1)
    out = []
    for _ in range(count):
        thing = rng.choice(things)
        versions[thing] += 1
        out.append(message(thing, versions[thing], rng))
    return out


def fill(sqs, url: str, batch: list[str]) -> None:
    for start in range(0, len(batch), 10):
        entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(batch[start:start + 10])]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)


def run(lights: int, count: int, round_size: int = 200) -> dict:
    from accounts.models import Home
    from devices.management.commands import consume_shadow_events as command
    from devices.models import Device
    from smartlight import aws

    Device.objects.all().delete()
    home = Home.objects.first() or Home.objects.create(name="Bench")
    Device.objects.bulk_create(
        [Device(home=home, name=f"L{i}", thing_name=f"sl-{i:012x}") for i in range(lights)],
        batch_size=2000,
    )
    things = [f"sl-{i:012x}" for i in range(lights)]
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=QUEUE, Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    consumer = command.Consumer(QUEUE, wait_seconds=0)
    original = command.apply_events
    apply_wall = 0.0

    def timed_apply(events):
        nonlocal apply_wall
        started = time.perf_counter()
        try:
            return original(events)
        finally:
            apply_wall += time.perf_counter() - started

    everything = bodies(things, count, seed=lights)
    done = applied = poison = 0
    wall = cpu = 0.0
    command.apply_events = timed_apply
    try:
        # moto's queue slows down as it grows: fill a round, then drain it (only the draining
        # is timed), so the figure is the consumer's and not moto's.
        for start in range(0, count, round_size):
            fill(sqs, url, everything[start:start + round_size])
            wall_start, cpu_start = time.perf_counter(), time.process_time()
            while True:
                counts = consumer.poll_once()
                if not counts["received"]:
                    break
                done += counts["received"]
                applied += counts["applied"]
                poison += counts["poison"]
            wall += time.perf_counter() - wall_start
            cpu += time.process_time() - cpu_start
    finally:
        command.apply_events = original
    return {
        "lights": lights, "messages": done, "applied": applied, "poison": poison,
        "wall_per_s": done / wall, "cpu_per_s": done / cpu, "apply_per_s": done / apply_wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--lights", default="100,1000,10000")
    args = parser.parse_args()
    moto = start_moto()
    # Its own database name, so a test run on the same server is never disturbed.
    if connection.vendor != "sqlite":
        name = connection.settings_dict["NAME"]
        connection.settings_dict["TEST"]["NAME"] = f"bench_consumer_{name}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"database: {connection.vendor}; moto SQS in its own process; batches of 10;"
              f" {os.cpu_count()} CPUs, load average {load}")
        for lights in [int(n) for n in args.lights.split(",")]:
            r = run(lights, args.messages)
            print(f"{r['lights']:>6} lights: {r['messages']} messages;"
                  f" per consumer CPU second {r['cpu_per_s']:,.0f} msg/s;"
                  f" applying (one transaction per batch) {r['apply_per_s']:,.0f} msg/s"
                  f" wall; end to end with moto {r['wall_per_s']:,.0f} msg/s wall;"
                  f" applied {r['applied']}, dead-lettered {r['poison']}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        moto.terminate()
        moto.wait(timeout=10)


if __name__ == "__main__":
    main()
