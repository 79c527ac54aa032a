"""localcloud opens its MQTT ports only once the shadow service and the rules listen."""

from __future__ import annotations

import asyncio

from localcloud.broker import Broker
from localcloud.cloud import Config, LocalCloud
from localcloud.tests.conftest import new_thing


def test_a_light_connecting_at_once_finds_its_shadow_requests_and_last_will_heard(monkeypatch):
    thing = new_thing()
    heard_when_listening: dict[str, bool] = {}
    real_start = Broker.start

    async def start(self: Broker, host: str, port: int) -> tuple[str, int]:
        # The first moment a client could connect: who would receive what a light sends?
        heard_when_listening["get"] = self.wanted(f"$aws/things/{thing}/shadow/get")
        heard_when_listening["update"] = self.wanted(f"$aws/things/{thing}/shadow/update")
        heard_when_listening["lwt"] = self.wanted(f"smartlight/{thing}/lwt")
        return await real_start(self, host, port)

    monkeypatch.setattr(Broker, "start", start)

    async def scenario() -> None:
        cloud = LocalCloud(Config(mqtt_port=0, http_port=0, moto=False))
        await cloud.start()
        await cloud.stop()

    asyncio.run(scenario())

    assert heard_when_listening == {"get": True, "update": True, "lwt": True}
