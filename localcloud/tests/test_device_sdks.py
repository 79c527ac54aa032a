"""Clients built with AWS's own device SDKs, with their defaults, work against the TLS listener.

Both SDKs send SDK metrics as the MQTT username by default (`?SDK=PythonV2&Version=...`,
`?SDK=Python&Version=...`); IoT Core ignores it, and so must localcloud. The v2 SDK also asks
for a persistent session (clean_session=False) and a 1200 s keepalive by default.
"""

from __future__ import annotations

import json
import queue

import pytest

from localcloud.tests.tls import provision


def test_the_v2_device_sdk_with_its_defaults_connects_and_follows_its_shadow(cloud, tmp_path,
                                                                             thing):
    from awscrt import mqtt
    from awsiot import mqtt_connection_builder

    bundle = provision(cloud, tmp_path, thing)
    received: queue.Queue[tuple[str, bytes]] = queue.Queue()
    connection = mqtt_connection_builder.mtls_from_path(
        endpoint="localhost", port=cloud.mqtts_port, cert_filepath=str(bundle.cert),
        pri_key_filepath=str(bundle.key), ca_filepath=str(cloud.ca_path), client_id=thing)

    assert connection.connect().result(10) == {"session_present": False}
    try:
        subscribed, _ = connection.subscribe(
            f"$aws/things/{thing}/shadow/update/delta", mqtt.QoS.AT_LEAST_ONCE,
            callback=lambda topic, payload, **kwargs: received.put((topic, payload)))
        assert subscribed.result(5)["qos"] == mqtt.QoS.AT_LEAST_ONCE
        cloud.client("iot-data").update_thing_shadow(
            thingName=thing, payload=json.dumps({"state": {"desired": {"on": True}}}))
        topic, payload = received.get(timeout=5)
    finally:
        connection.disconnect().result(5)

    assert topic == f"$aws/things/{thing}/shadow/update/delta"
    assert json.loads(payload)["state"] == {"on": True}


# The v1 SDK's vendored paho builds its context with ssl.PROTOCOL_TLS.
@pytest.mark.filterwarnings("ignore:ssl.PROTOCOL_TLS is deprecated:DeprecationWarning")
def test_the_v1_device_sdk_with_its_defaults_connects_and_publishes(cloud, tmp_path, thing):
    from AWSIoTPythonSDK.MQTTLib import AWSIoTMQTTClient

    bundle = provision(cloud, tmp_path, thing)
    received: queue.Queue[bytes] = queue.Queue()
    client = AWSIoTMQTTClient(thing)
    client.configureEndpoint("localhost", cloud.mqtts_port)
    client.configureCredentials(str(cloud.ca_path), str(bundle.key), str(bundle.cert))

    assert client.connect()
    try:
        client.subscribe(f"$aws/things/{thing}/shadow/update/accepted", 1,
                         lambda _client, _userdata, message: received.put(message.payload))
        client.publish(f"$aws/things/{thing}/shadow/update",
                       json.dumps({"state": {"reported": {"on": False}}}), 1)
        accepted = json.loads(received.get(timeout=5))
    finally:
        client.disconnect()

    assert accepted["state"]["reported"] == {"on": False}
