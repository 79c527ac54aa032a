"""A device as the firmware drives it: the firmware's own asyncio MQTT client (firmware/device/
mqtt.py, on CPython streams as in the simulator), against localcloud's broker and Mosquitto."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

fleet = pytest.importorskip("firmware.sim.fleet", reason="the firmware simulator is not here")

LWT = '{"state":{"reported":{"connected":false}}}'


def test_the_firmware_client_follows_its_shadow_and_leaves_its_last_will(backend, thing):
    mqtt = fleet.device_module("mqtt")
    iot = backend.client("iot-data")
    iot.update_thing_shadow(thingName=thing, payload=json.dumps(
        {"state": {"desired": {"on": True, "brightness": 128}}}))
    root = f"$aws/things/{thing}/shadow/"

    async def device_session() -> dict:
        received: list[tuple[bytes, bytes]] = []
        device = mqtt.MQTTClient(thing, backend.mqtt_host, backend.mqtt_port, keepalive=30)
        device.set_callback(lambda topic, msg: received.append((topic, msg)))
        device.set_last_will(f"smartlight/{thing}/lwt", LWT, False, 1)
        await device.connect()
        assert await device.subscribe(root + "get/accepted", 1) == 1
        assert await device.subscribe(root + "update/delta", 1) == 1
        await device.publish(root + "get", "")
        deadline = time.monotonic() + 5
        while not any(t == (root + "get/accepted").encode() for t, _ in received):
            assert time.monotonic() < deadline, received
            await asyncio.sleep(0.01)
        document = json.loads(dict(received)[(root + "get/accepted").encode()])
        # The device applies the delta and reports at QoS 1: the client waits for the PUBACK.
        # (With Mosquitto the PUBACK is the broker's, before the shadow service has the update.)
        await device.publish(root + "update", json.dumps(
            {"state": {"reported": {"on": True, "brightness": 128, "connected": True}}}), qos=1)
        return {"document": document, "device": device}

    async def run() -> None:
        session = await device_session()
        assert session["document"]["state"]["delta"] == {"on": True, "brightness": 128}
        shadow = await asyncio.to_thread(
            wait_for_shadow, iot, thing, lambda state: state["reported"].get("connected"))
        assert "delta" not in shadow["state"]
        session["device"].close("power cut")  # no DISCONNECT

    asyncio.run(run())
    wait_for_shadow(iot, thing, lambda state: state["reported"]["connected"] is False)


def wait_for_shadow(iot, thing, condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        shadow = json.loads(iot.get_thing_shadow(thingName=thing)["payload"].read())
        if condition(shadow["state"]):
            return shadow
        assert time.monotonic() < deadline, shadow
        time.sleep(0.05)
