"""Shadow throughput: N device clients, desired updates at a fixed rate, update → delta latency.

Each device client (client id = thing name) subscribes to its own `/update/delta` and publishes
`desired` updates to its own shadow; the time from publishing an update to receiving its delta
(matched by `clientToken`) is the latency. The offered rate is spread evenly over the devices.

Runs once against localcloud's own broker and once with localcloud on Mosquitto (127.0.0.1:1883)
when it answers. localcloud runs in its own process; the clients are asyncio connections in this
one, so a thousand of them cost one core at most.

    .venv/bin/python bench/shadow_throughput.py [--clients 1000] [--seconds 30] [--rate 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from localcloud.client import MQTTClient  # noqa: E402
from localcloud.testing import MOSQUITTO, LocalCloud, mosquitto_answers  # noqa: E402


class Run:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.sent: dict[str, float] = {}
        self.latencies: list[float] = []
        self.errors = 0

    def on_delta(self, topic: str, payload: bytes) -> None:
        now = time.perf_counter()
        token = json.loads(payload).get("clientToken")
        started = self.sent.pop(token, None)
        if started is not None:
            self.latencies.append(now - started)


async def connect_all(things: list[str], host: str, port: int, run: Run) -> list[MQTTClient]:
    clients: list[MQTTClient] = []
    gate = asyncio.Semaphore(100)

    async def one(thing: str) -> None:
        client = MQTTClient(thing, keepalive=60, on_message=run.on_delta, quickack=True)
        async with gate:
            await client.connect(host, port)
            await client.subscribe([(f"$aws/things/{thing}/shadow/update/delta", 0)])
        clients.append(client)

    await asyncio.gather(*(one(t) for t in things))
    return clients


async def drive(host: str, port: int, clients_count: int, seconds: float, rate: float,
                prefix: str) -> dict[str, float]:
    run = Run(prefix)
    things = [f"sl-{prefix}{i:06x}" for i in range(clients_count)]
    started = time.perf_counter()
    clients = await connect_all(things, host, port, run)
    connect_seconds = time.perf_counter() - started
    by_thing = {c.client_id: c for c in clients}
    order = [by_thing[t] for t in things]

    tick = 0.005
    sequence = 0
    begin = time.perf_counter()
    deadline = begin + seconds
    next_tick = begin
    while True:
        now = time.perf_counter()
        if now >= deadline:
            break
        # Send what the offered rate owes up to now (catches up if a tick ran late).
        due = int((now - begin) * rate) - sequence
        for _ in range(max(due, 0)):
            client = order[sequence % len(order)]
            token = f"{sequence:x}"
            payload = (b'{"state":{"desired":{"brightness":%d,"on":true}},"clientToken":"%s"}'
                       % (sequence % 256, token.encode()))
            run.sent[token] = time.perf_counter()
            client.publish(f"$aws/things/{client.client_id}/shadow/update", payload, 0)
            sequence += 1
        next_tick += tick
        await asyncio.sleep(max(0.0, next_tick - time.perf_counter()))
    elapsed = time.perf_counter() - begin
    await asyncio.sleep(1.0)  # let the last deltas arrive
    lost = len(run.sent)
    for client in clients:
        client.abort()
    latencies = sorted(run.latencies)
    if not latencies:
        return {"connected": len(clients), "sent": sequence, "delivered": 0}
    return {
        "clients": len(clients),
        "connect_s": connect_seconds,
        "sent": sequence,
        "delivered": len(latencies),
        "lost": lost,
        "updates_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "max_ms": latencies[-1] * 1000,
    }


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds used so far by this process and by its finished children (localcloud)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, children.ru_utime + children.ru_stime


def report(name: str, figures: dict[str, float], before: tuple[float, float]) -> None:
    after = cpu_seconds()
    print(f"{name}: {figures.get('clients', 0)} clients connected in "
          f"{figures.get('connect_s', 0):.1f} s; sent {figures['sent']} updates, "
          f"{figures['delivered']} deltas received")
    if figures["delivered"]:
        print(f"  {figures['updates_per_s']:.0f} updates/s   p50 {figures['p50_ms']:.1f} ms   "
              f"p99 {figures['p99_ms']:.1f} ms   max {figures['max_ms']:.1f} ms   "
              f"lost {figures['lost']}", flush=True)
    print(f"  CPU: clients {after[0] - before[0]:.1f} s, localcloud {after[1] - before[1]:.1f} s",
          flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=2000.0, help="offered updates per second")
    parser.add_argument("--with-sqs", action="store_true",
                        help="also run moto and forward every documents message to SQS")
    parser.add_argument("--only", choices=["localcloud", "mosquitto"], default=None)
    args = parser.parse_args()
    prefix = os.urandom(3).hex()
    print(f"shadow throughput: {args.clients} device clients, {args.seconds:.0f} s at "
          f"{args.rate:.0f} updates/s offered; {os.cpu_count()} CPUs", flush=True)

    if args.only in (None, "localcloud"):
        before = cpu_seconds()
        with LocalCloud(moto=args.with_sqs, things=f"sl-{prefix}") as cloud:
            figures = asyncio.run(drive(cloud.mqtt_host, cloud.mqtt_port, args.clients,
                                        args.seconds, args.rate, prefix))
        report("localcloud broker", figures, before)

    if args.only in (None, "mosquitto"):
        if not mosquitto_answers():
            print("mosquitto: skipped, nothing answers on 127.0.0.1:1883")
        else:
            prefix = os.urandom(3).hex()
            with LocalCloud(mqtt_url="mqtt://127.0.0.1:1883", moto=args.with_sqs,
                            things=f"sl-{prefix}") as cloud:
                before = cpu_seconds()
                figures = asyncio.run(drive(*MOSQUITTO, args.clients, args.seconds, args.rate,
                                            prefix))
            report("mosquitto + localcloud shadow service", figures, before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
