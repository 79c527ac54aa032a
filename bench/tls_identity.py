"""Identity by certificate: what TLS and per-connection IoT policies cost on localcloud's broker.

N lights are provisioned the way the platform does it (boto3 against localcloud's moto: thing,
keys and certificate from the local CA, the device policy, the attachment). Then:

- connect: N clients at once (50 in flight), TCP + TLS handshake with a client certificate +
  CONNECT/CONNACK (registry lookup, policy evaluation) on the TLS listener, and the same over
  plain TCP with client id = thing name, for comparison;
- updates: every client publishes reported updates to its own shadow at a fixed total rate;
  latency from publish to its `/update/accepted`, once over TLS (every publish, subscribe and
  delivery checked against the device policy) and once over plain TCP.

    .venv/bin/python bench/tls_identity.py [--lights 200] [--rate 500] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from localcloud.client import MQTTClient  # noqa: E402
from localcloud.testing import LocalCloud  # noqa: E402


def provision(cloud: LocalCloud, things: list[str], directory: Path) -> dict[str, object]:
    iot = cloud.client("iot")
    contexts = {}
    for thing in things:
        iot.create_thing(thingName=thing, thingTypeName="smartlight")
        made = iot.create_keys_and_certificate(setAsActive=True)
        iot.attach_policy(policyName="smartlight-device", target=made["certificateArn"])
        iot.attach_thing_principal(thingName=thing, principal=made["certificateArn"])
        cert, key = directory / f"{thing}.crt", directory / f"{thing}.key"
        cert.write_text(made["certificatePem"])
        key.write_text(made["keyPair"]["PrivateKey"])
        contexts[thing] = cloud.tls_context(cert, key)
    return contexts


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def connect_all(cloud: LocalCloud, things: list[str], contexts: dict | None,
                      on_message) -> tuple[list[MQTTClient], list[float], float]:
    gate = asyncio.Semaphore(50)
    latencies: list[float] = []
    clients: list[MQTTClient] = []

    async def one(thing: str) -> None:
        client = MQTTClient(thing, keepalive=60, on_message=on_message)
        async with gate:
            started = time.perf_counter()
            if contexts is None:
                await client.connect(cloud.mqtt_host, cloud.mqtt_port)
            else:
                await client.connect(cloud.mqtts_host, cloud.mqtts_port, tls=contexts[thing])
            latencies.append(time.perf_counter() - started)
            await client.subscribe([(f"$aws/things/{thing}/shadow/update/accepted", 0)])
        clients.append(client)

    began = time.perf_counter()
    await asyncio.gather(*(one(t) for t in things))
    return clients, latencies, time.perf_counter() - began


async def run(cloud: LocalCloud, things: list[str], contexts: dict | None, rate: float,
              seconds: float) -> dict[str, float]:
    sent: dict[str, float] = {}
    latencies: list[float] = []

    def on_message(topic: str, payload: bytes) -> None:
        token = json.loads(payload).get("clientToken")
        started = sent.pop(token, None)
        if started is not None:
            latencies.append(time.perf_counter() - started)

    clients, connects, connect_seconds = await connect_all(cloud, things, contexts, on_message)
    by_thing = {c.client_id: c for c in clients}
    interval = 1.0 / rate
    count = int(rate * seconds)
    began = time.perf_counter()
    for n in range(count):
        target = began + n * interval
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        thing = things[n % len(things)]
        token = f"{n}"
        sent[token] = time.perf_counter()
        by_thing[thing].publish(
            f"$aws/things/{thing}/shadow/update",
            json.dumps({"state": {"reported": {"brightness": n % 256}},
                        "clientToken": token}).encode(), 0)
    await asyncio.sleep(2.0)
    for client in clients:
        await client.disconnect()
    return {
        "connects_per_s": len(connects) / connect_seconds,
        "connect_p50_ms": statistics.median(connects) * 1000,
        "connect_p99_ms": percentile(connects, 0.99) * 1000,
        "updates": count,
        "lost": count - len(latencies),
        "update_p50_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "update_p99_ms": percentile(latencies, 0.99) * 1000 if latencies else float("nan"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lights", type=int, default=200)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    prefix = "sl-" + secrets.token_hex(3)
    things = [f"{prefix}{i:06x}" for i in range(args.lights)]
    with LocalCloud() as cloud, tempfile.TemporaryDirectory() as directory:
        began = time.perf_counter()
        contexts = provision(cloud, things, Path(directory))
        print(f"provisioned {len(things)} lights through boto3 in "
              f"{time.perf_counter() - began:.1f} s")
        for name, ctx in (("tls", contexts), ("plain", None)):
            figures = asyncio.run(run(cloud, things, ctx, args.rate, args.seconds))
            print(f"{name:5}  connect {figures['connects_per_s']:.0f}/s "
                  f"p50 {figures['connect_p50_ms']:.1f} ms p99 {figures['connect_p99_ms']:.1f} ms"
                  f"  |  {figures['updates']} updates at {args.rate:.0f}/s: "
                  f"p50 {figures['update_p50_ms']:.2f} ms p99 {figures['update_p99_ms']:.2f} ms, "
                  f"lost {figures['lost']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
