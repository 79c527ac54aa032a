"""`--mqtt-url`: the shadow service as a client of another broker, surviving its restarts."""

from __future__ import annotations

import asyncio
import json

from localcloud.broker import Broker
from localcloud.client import MQTTClient
from localcloud.cloud import Config, LocalCloud
from localcloud.tests.conftest import new_thing


async def shadow_round_trip(host: str, port: int, thing: str, token: str) -> dict:
    answers: asyncio.Queue[bytes] = asyncio.Queue()
    device = MQTTClient(thing, on_message=lambda topic, payload: answers.put_nowait(payload))
    await device.connect(host, port)
    await device.subscribe([(f"$aws/things/{thing}/shadow/update/accepted", 1)])
    await device.publish_acked(f"$aws/things/{thing}/shadow/update", json.dumps(
        {"state": {"reported": {"on": True}}, "clientToken": token}).encode())
    accepted = json.loads(await asyncio.wait_for(answers.get(), 5))
    await device.disconnect()
    return accepted


def test_the_shadow_service_reconnects_when_the_external_broker_restarts():
    thing = new_thing()

    async def scenario():
        broker = Broker("svc", "secret")
        host, port = await broker.start("127.0.0.1", 0)
        cloud = LocalCloud(Config(http_port=0, moto=False,
                                  mqtt_url=f"mqtt://svc:secret@{host}:{port}"))
        endpoints = await cloud.start()
        assert endpoints.external_broker
        first = await shadow_round_trip(host, port, thing, "before")

        await broker.stop()
        broker = Broker("svc", "secret")
        await broker.start(host, port)
        for _ in range(50):  # the service reconnects with backoff starting at 0.5 s
            if broker.sessions and any(not s.startswith("sl-") for s in broker.sessions):
                break
            await asyncio.sleep(0.1)
        second = await shadow_round_trip(host, port, thing, "after")

        await cloud.stop()
        await broker.stop()
        return first, second

    first, second = asyncio.run(scenario())

    assert (first["clientToken"], first["version"]) == ("before", 1)
    assert (second["clientToken"], second["version"]) == ("after", 2)
