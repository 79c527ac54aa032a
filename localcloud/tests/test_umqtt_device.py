"""A device as the firmware drives it: umqtt.simple's blocking API (the simulator's CPython
implementation of it), against localcloud's broker and Mosquitto."""

from __future__ import annotations

import json
import time

import pytest

umqtt = pytest.importorskip("firmware.sim.umqtt", reason="the firmware simulator is not here")

LWT = '{"state":{"reported":{"connected":false}}}'


def test_a_umqtt_simple_device_follows_its_shadow_and_leaves_its_last_will(backend, thing):
    iot = backend.client("iot-data")
    iot.update_thing_shadow(thingName=thing, payload=json.dumps(
        {"state": {"desired": {"on": True, "brightness": 128}}}))
    received: list[tuple[bytes, bytes]] = []
    device = umqtt.MQTTClient(thing, backend.mqtt_host, backend.mqtt_port, keepalive=30)
    device.set_callback(lambda topic, msg: received.append((topic, msg)))
    device.set_last_will(f"smartlight/{thing}/lwt", LWT, False, 1)
    root = f"$aws/things/{thing}/shadow/"

    device.connect()
    device.subscribe(root + "get/accepted", 1)
    device.subscribe(root + "update/delta", 1)
    device.publish(root + "get", "")
    deadline = time.monotonic() + 5
    while not any(t == (root + "get/accepted").encode() for t, _ in received):
        assert time.monotonic() < deadline, received
        device.check_msg()
        time.sleep(0.01)
    document = json.loads(dict(received)[(root + "get/accepted").encode()])
    assert document["state"]["delta"] == {"on": True, "brightness": 128}

    # The device applies the delta and reports at QoS 1: umqtt.simple waits for the PUBACK.
    device.publish(root + "update", json.dumps(
        {"state": {"reported": {"on": True, "brightness": 128, "connected": True}}}), qos=1)
    # (With Mosquitto the PUBACK is the broker's, before the shadow service has the update.)
    shadow = wait_for_shadow(iot, thing, lambda state: state["reported"].get("connected"))
    assert "delta" not in shadow["state"]

    device.sock.close()  # power cut: no DISCONNECT

    wait_for_shadow(iot, thing, lambda state: state["reported"]["connected"] is False)


def wait_for_shadow(iot, thing, condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        shadow = json.loads(iot.get_thing_shadow(thingName=thing)["payload"].read())
        if condition(shadow["state"]):
            return shadow
        assert time.monotonic() < deadline, shadow
        time.sleep(0.05)
