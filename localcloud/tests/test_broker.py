"""localcloud's broker behaves like AWS IoT Core's: MQTT 3.1.1 with paho-mqtt (and a raw socket
where a client has to misbehave), QoS 0/1 only, `$` topics, Last Will, keepalive, takeover and
per-thing identity."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time

import pytest

from localcloud import mqtt
from localcloud.broker import Broker
from localcloud.client import ConnectionRefused, MQTTClient
from localcloud.tests.conftest import new_thing

LWT = json.dumps({"state": {"reported": {"connected": False}}}).encode()


class RawClient:
    """A bare socket speaking MQTT, for clients that must break the rules or go silent."""

    def __init__(self, cloud, client_id, *, keepalive=60, will=None, username=None,
                 password=None):
        self.sock = socket.create_connection((cloud.mqtt_host, cloud.mqtt_port), timeout=5)
        self.decoder = mqtt.Decoder()
        self.pending: list[mqtt.Packet] = []
        will_topic, will_payload = will or (None, b"")
        self.sock.sendall(mqtt.connect(client_id, keepalive=keepalive, will_topic=will_topic,
                                       will_payload=will_payload, will_qos=1 if will else 0,
                                       username=username, password=password))
        connack = self.read()
        assert connack.kind == mqtt.CONNACK
        self.code = connack.body[1]

    def read(self, timeout=5.0) -> mqtt.Packet:
        self.sock.settimeout(timeout)
        while not self.pending:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.pending.extend(self.decoder.feed(data))
        return self.pending.pop(0)

    def publish(self, topic, payload, qos=1):
        self.sock.sendall(mqtt.publish(topic, payload, qos, 1 if qos else 0))
        if qos:
            assert self.read().kind == mqtt.PUBACK

    def seconds_until_closed(self, timeout=10.0) -> float:
        start = time.monotonic()
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
        except ConnectionResetError:
            pass
        return time.monotonic() - start

    def close(self):
        self.sock.close()


def test_a_qos_2_publish_disconnects_the_client(local_mqtt):
    # IoT Core does not support QoS 2.
    client = local_mqtt()
    client.client.publish("smartlight/x/test", b"1", qos=2)

    assert client.disconnected.wait(3)


def test_a_qos_2_subscription_is_granted_qos_1(local_mqtt):
    client = local_mqtt()

    assert client.subscribe("smartlight/+/cmd", qos=2) == [1]


def test_leading_wildcards_never_match_dollar_topics(local_mqtt, thing):
    everything = local_mqtt()
    everything.subscribe("#")
    everything.subscribe("+/things/#")
    aws = local_mqtt()
    aws.subscribe("$aws/things/+/shadow/update")
    device = local_mqtt(thing, service=False)

    device.publish(f"$aws/things/{thing}/shadow/update", {"state": {"reported": {"on": True}}})
    device.publish(f"smartlight/{thing}/status", b"{}")

    assert aws.expect(f"$aws/things/{thing}/shadow/update")["state"]
    assert everything.expect_raw(f"smartlight/{thing}/status") == b"{}"
    assert not [t for t in everything.drain(0.3) + everything.topics() if t.startswith("$")]


def test_plus_matches_one_level_and_hash_the_parent_and_every_level_below(local_mqtt, thing):
    plus = local_mqtt()
    plus.subscribe("smartlight/+/cmd")
    hash_ = local_mqtt()
    hash_.subscribe(f"smartlight/{thing}/#")
    device = local_mqtt(thing, service=False)
    service = local_mqtt()

    service.publish(f"smartlight/{thing}/cmd", b"a")
    service.publish(f"smartlight/{thing}/cmd/extra", b"b")
    service.publish(f"smartlight/{thing}", b"c")

    assert plus.expect_raw(f"smartlight/{thing}/cmd") == b"a"
    assert f"smartlight/{thing}/cmd/extra" not in plus.drain(0.3)
    got = {hash_.expect_raw(topic) for topic in
           (f"smartlight/{thing}/cmd", f"smartlight/{thing}/cmd/extra", f"smartlight/{thing}")}
    assert got == {b"a", b"b", b"c"}
    device.close()


def test_the_last_will_goes_out_when_a_client_vanishes(local_mqtt, cloud, thing):
    observer = local_mqtt()
    observer.subscribe(f"smartlight/{thing}/lwt")
    device = RawClient(cloud, thing, will=(f"smartlight/{thing}/lwt", LWT))

    device.close()  # TCP gone, no DISCONNECT

    assert observer.expect_raw(f"smartlight/{thing}/lwt") == LWT


def test_no_last_will_after_a_clean_disconnect(local_mqtt, thing):
    observer = local_mqtt()
    observer.subscribe(f"smartlight/{thing}/lwt")
    device = local_mqtt(thing, service=False, will=(f"smartlight/{thing}/lwt", LWT, 1))

    device.close()

    assert f"smartlight/{thing}/lwt" not in observer.drain(0.5)


def test_a_silent_client_is_dropped_after_one_and_a_half_keepalives(cloud, local_mqtt, thing):
    observer = local_mqtt()
    observer.subscribe(f"smartlight/{thing}/lwt")
    device = RawClient(cloud, thing, keepalive=1, will=(f"smartlight/{thing}/lwt", LWT))

    waited = device.seconds_until_closed()

    # §3.1.2.10: 1.5 x keepalive; the broker checks four times a second (plus slack for a
    # busy machine).
    assert 1.4 <= waited <= 2.5
    assert observer.expect_raw(f"smartlight/{thing}/lwt") == LWT


def test_pings_keep_a_client_connected(cloud, thing):
    device = RawClient(cloud, thing, keepalive=1)
    for _ in range(4):
        time.sleep(0.5)
        device.sock.sendall(mqtt.PINGREQ_PACKET)
        assert device.read().kind == mqtt.PINGRESP
    device.close()


def test_a_second_connection_with_the_same_client_id_takes_over(local_mqtt, cloud, thing):
    observer = local_mqtt()
    observer.subscribe(f"smartlight/{thing}/lwt")
    first = RawClient(cloud, thing, will=(f"smartlight/{thing}/lwt", LWT))

    second = local_mqtt(thing, service=False)

    assert first.seconds_until_closed(timeout=3) < 3
    # The dropped connection did not say DISCONNECT, so its Last Will goes out.
    assert observer.expect_raw(f"smartlight/{thing}/lwt") == LWT
    assert second.subscribe(f"smartlight/{thing}/cmd") == [1]


def test_a_device_may_subscribe_only_its_own_topics(local_mqtt, thing):
    device = local_mqtt(thing, service=False)
    other = new_thing()

    assert device.subscribe(f"$aws/things/{thing}/shadow/update/delta") == [1]
    assert device.subscribe(f"smartlight/{thing}/cmd") == [1]
    assert device.subscribe(f"$aws/things/{other}/shadow/update/delta") == [0x80]
    assert device.subscribe("smartlight/+/cmd") == [0x80]
    assert device.subscribe("#") == [0x80]
    # Refusals do not end the connection.
    assert device.subscribe(f"smartlight/{thing}/#") == [1]


def test_a_device_publishing_to_another_things_topic_is_disconnected(local_mqtt, thing):
    other = new_thing()
    victim = local_mqtt()
    victim.subscribe(f"$aws/things/{other}/shadow/update")
    victim.subscribe(f"smartlight/{thing}/lwt")
    device = local_mqtt(thing, service=False, will=(f"smartlight/{thing}/lwt", LWT, 1))

    device.client.publish(f"$aws/things/{other}/shadow/update", b'{"state":{}}', qos=1)

    assert device.disconnected.wait(3)
    assert victim.expect_raw(f"smartlight/{thing}/lwt") == LWT
    assert f"$aws/things/{other}/shadow/update" not in victim.topics()


def test_a_client_that_is_neither_a_device_nor_the_service_is_refused(cloud):
    client = RawClient(cloud, "laptop")

    assert client.code == mqtt.REFUSED_NOT_AUTHORIZED
    client.close()


def test_a_wrong_service_password_is_refused(cloud):
    client = RawClient(cloud, "platform", username=cloud.service_credentials.username,
                       password="guess")

    assert client.code == mqtt.REFUSED_BAD_CREDENTIALS
    client.close()


def test_a_device_may_not_leave_a_last_will_on_another_things_topic(cloud, thing):
    client = RawClient(cloud, thing, will=(f"smartlight/{new_thing()}/lwt", LWT))

    assert client.code == mqtt.REFUSED_NOT_AUTHORIZED
    client.close()


def test_a_retained_message_reaches_later_subscribers_with_the_retain_flag(local_mqtt, thing):
    service = local_mqtt()
    service.client.publish(f"smartlight/{thing}/config", b"retained", qos=1,
                           retain=True).wait_for_publish(5)

    late = local_mqtt()
    late.subscribe(f"smartlight/{thing}/config")

    topic, payload, retain = late.messages.get(timeout=3)
    assert (topic, payload, retain) == (f"smartlight/{thing}/config", b"retained", True)


def test_a_persistent_session_gets_the_qos_1_messages_it_missed(local_mqtt, thing):
    subscriber = local_mqtt(thing, service=False, clean_session=False)
    subscriber.subscribe(f"smartlight/{thing}/cmd", qos=1)
    subscriber.close()
    local_mqtt().publish(f"smartlight/{thing}/cmd", b"while-away", qos=1)

    back = local_mqtt(thing, service=False, clean_session=False)

    assert back.expect_raw(f"smartlight/{thing}/cmd") == b"while-away"


def test_a_first_packet_other_than_connect_closes_the_connection(cloud):
    sock = socket.create_connection((cloud.mqtt_host, cloud.mqtt_port), timeout=3)
    sock.sendall(mqtt.PINGREQ_PACKET)

    assert sock.recv(10) == b""
    sock.close()


def test_violations_are_logged(caplog):
    # In-process broker so the log records are visible here.
    async def scenario():
        broker = Broker("svc", "pw")
        host, port = await broker.start("127.0.0.1", 0)
        thing = new_thing()
        device = MQTTClient(thing)
        await device.connect(host, port)
        assert await device.subscribe([("smartlight/+/cmd", 1)]) == [0x80]
        device.publish(f"smartlight/{new_thing()}/cmd", b"x", qos=0)
        await asyncio.wait_for(device.closed, 3)
        with pytest.raises(ConnectionRefused):
            await MQTTClient("stranger").connect(host, port)
        await broker.stop()

    with caplog.at_level(logging.WARNING, logger="localcloud.broker"):
        asyncio.run(scenario())

    messages = [record.getMessage() for record in caplog.records]
    assert any("may not subscribe to 'smartlight/+/cmd'" in m for m in messages)
    assert any("may not publish" in m and "disconnecting" in m for m in messages)
    assert any("refused CONNECT from 'stranger'" in m for m in messages)


def test_the_service_mqtt_url_carries_a_credential_the_broker_accepts(cloud):
    from localcloud.client import parse_mqtt_url

    host, port, username, password = parse_mqtt_url(cloud.service_mqtt_url)
    client = RawClient(cloud, "platform-worker", username=username, password=password)

    assert (host, port) == (cloud.mqtt_host, cloud.mqtt_port)
    assert client.code == mqtt.ACCEPTED
    client.close()


def test_a_malformed_packet_closes_only_that_connection(cloud, local_mqtt, thing):
    bystander = local_mqtt()
    client = RawClient(cloud, thing)

    client.sock.sendall(bytes((mqtt.SUBSCRIBE << 4 | 2, 1, 0)))  # SUBSCRIBE cut short

    assert client.seconds_until_closed(timeout=3) < 3
    assert bystander.subscribe(f"smartlight/{thing}/cmd") == [1]
