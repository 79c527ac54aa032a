"""localcloud's broker behaves like AWS IoT Core's: MQTT 3.1.1 with paho-mqtt (and a raw socket
where a client has to misbehave), QoS 0/1 only, `$` topics, Last Will, keepalive, takeover and
per-thing identity.

Tests taking `broker` / `broker_mqtt` are the conformance tests: they run against localcloud's
broker and against Mosquitto, so the two stay interchangeable. Tests taking `cloud` /
`local_mqtt` check what IoT Core does beyond (or instead of) MQTT 3.1.1, which Mosquitto's
default config does not; each says why. Mosquitto may be shared with other runs: every client
id and topic here is unique to the test, and retained messages and persistent sessions are
cleared before the test ends.
"""

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
                 password=None, service=False, clean_session=True):
        if service:
            username, password = cloud.service_credentials
        self.sock = socket.create_connection((cloud.mqtt_host, cloud.mqtt_port), timeout=5)
        self.decoder = mqtt.Decoder()
        self.pending: list[mqtt.Packet] = []
        self.packet_ids = iter(range(1, 65536))
        will_topic, will_payload = will or (None, b"")
        self.sock.sendall(mqtt.connect(client_id, keepalive=keepalive, will_topic=will_topic,
                                       will_payload=will_payload, will_qos=1 if will else 0,
                                       username=username, password=password,
                                       clean_session=clean_session))
        connack = self.read()
        assert connack.kind == mqtt.CONNACK
        self.session_present = bool(connack.body[0] & 0x01)
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

    def subscribe(self, topic_filter, qos=1) -> list[int]:
        packet_id = next(self.packet_ids)
        self.sock.sendall(mqtt.subscribe(packet_id, [(topic_filter, qos)]))
        suback = self.read()
        assert suback.kind == mqtt.SUBACK
        assert mqtt.packet_id_of(suback.body) == packet_id
        return list(suback.body[2:])

    def receive(self, timeout=5.0) -> tuple[str, bytes, int, int, bool, bool]:
        """The next PUBLISH: (topic, payload, qos, packet id, retain, dup)."""
        packet = self.read(timeout)
        assert packet.kind == mqtt.PUBLISH, packet
        return (*mqtt.parse_publish(packet.flags, packet.body), bool(packet.flags & 0x08))

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
    # IoT Core does not support QoS 2; Mosquitto does (MQTT 3.1.1 §4.3.3), so localcloud only.
    client = local_mqtt()
    client.client.publish("smartlight/x/test", b"1", qos=2)

    assert client.disconnected.wait(3)


def test_a_qos_2_subscription_is_granted_qos_1(local_mqtt):
    # IoT Core grants at most QoS 1; Mosquitto grants the QoS 2 asked for, so localcloud only.
    client = local_mqtt()

    assert client.subscribe("smartlight/+/cmd", qos=2) == [1]


def test_leading_wildcards_never_match_dollar_topics(broker_mqtt, thing):
    # §4.7.2. On a shared Mosquitto `#` also brings other runs' messages: `expect` skips them.
    everything = broker_mqtt()
    everything.subscribe("#")
    everything.subscribe("+/things/#")
    aws = broker_mqtt()
    aws.subscribe("$aws/things/+/shadow/update")
    device = broker_mqtt(thing, service=False)

    device.publish(f"$aws/things/{thing}/shadow/update", {"state": {"reported": {"on": True}}})
    device.publish(f"smartlight/{thing}/status", b"{}")

    assert aws.expect(f"$aws/things/{thing}/shadow/update")["state"]
    assert everything.expect_raw(f"smartlight/{thing}/status") == b"{}"
    assert not [t for t in everything.drain(0.3) + everything.topics() if t.startswith("$")]


def test_plus_matches_one_level_and_hash_the_parent_and_every_level_below(broker_mqtt, thing):
    # §4.7.1.2, §4.7.1.3
    plus = broker_mqtt()
    plus.subscribe("smartlight/+/cmd")
    hash_ = broker_mqtt()
    hash_.subscribe(f"smartlight/{thing}/#")
    device = broker_mqtt(thing, service=False)
    service = broker_mqtt()

    service.publish(f"smartlight/{thing}/cmd", b"a")
    service.publish(f"smartlight/{thing}/cmd/extra", b"b")
    service.publish(f"smartlight/{thing}", b"c")

    assert plus.expect_raw(f"smartlight/{thing}/cmd") == b"a"
    assert f"smartlight/{thing}/cmd/extra" not in plus.drain(0.3)
    got = {hash_.expect_raw(topic) for topic in
           (f"smartlight/{thing}/cmd", f"smartlight/{thing}/cmd/extra", f"smartlight/{thing}")}
    assert got == {b"a", b"b", b"c"}
    device.close()


def test_the_last_will_goes_out_when_a_client_vanishes(broker_mqtt, broker, thing):
    # §3.1.2.5
    observer = broker_mqtt()
    observer.subscribe(f"smartlight/{thing}/lwt")
    device = RawClient(broker, thing, will=(f"smartlight/{thing}/lwt", LWT))

    device.close()  # TCP gone, no DISCONNECT

    assert observer.expect_raw(f"smartlight/{thing}/lwt") == LWT


def test_no_last_will_after_a_clean_disconnect(broker_mqtt, thing):
    # §3.14.4
    observer = broker_mqtt()
    observer.subscribe(f"smartlight/{thing}/lwt")
    device = broker_mqtt(thing, service=False, will=(f"smartlight/{thing}/lwt", LWT, 1))

    device.close()

    assert f"smartlight/{thing}/lwt" not in observer.drain(0.5)


def test_a_silent_client_is_dropped_after_one_and_a_half_keepalives(cloud, local_mqtt, thing):
    # The window is IoT Core's timing, localcloud only: Mosquitto's grace is looser (seconds).
    observer = local_mqtt()
    observer.subscribe(f"smartlight/{thing}/lwt")
    device = RawClient(cloud, thing, keepalive=1, will=(f"smartlight/{thing}/lwt", LWT))

    waited = device.seconds_until_closed()

    # §3.1.2.10: 1.5 x keepalive; the broker checks four times a second (plus slack for a
    # busy machine).
    assert 1.4 <= waited <= 2.5
    assert observer.expect_raw(f"smartlight/{thing}/lwt") == LWT


def test_pings_keep_a_client_connected(broker, thing):
    # §3.1.2.10, §3.12
    device = RawClient(broker, thing, keepalive=1)
    for _ in range(4):
        time.sleep(0.5)
        device.sock.sendall(mqtt.PINGREQ_PACKET)
        assert device.read().kind == mqtt.PINGRESP
    device.close()


def test_a_second_connection_with_the_same_client_id_takes_over(broker_mqtt, broker, thing):
    # §3.1.4-2
    observer = broker_mqtt()
    observer.subscribe(f"smartlight/{thing}/lwt")
    first = RawClient(broker, thing, will=(f"smartlight/{thing}/lwt", LWT))

    second = broker_mqtt(thing, service=False)

    assert first.seconds_until_closed(timeout=3) < 3
    # The dropped connection did not say DISCONNECT, so its Last Will goes out.
    assert observer.expect_raw(f"smartlight/{thing}/lwt") == LWT
    assert second.subscribe(f"smartlight/{thing}/cmd") == [1]


def test_a_device_may_subscribe_only_its_own_topics(local_mqtt, thing):
    # IoT Core policy, not MQTT: Mosquitto's default config has no per-thing identity.
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
    # IoT Core policy, not MQTT: Mosquitto's default config has no per-thing identity.
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
    # IoT Core authentication; Mosquitto's default config lets anonymous clients in.
    client = RawClient(cloud, "laptop")

    assert client.code == mqtt.REFUSED_NOT_AUTHORIZED
    client.close()


def test_a_wrong_service_password_is_refused(cloud):
    # Mosquitto's default config has no password file, so localcloud only.
    client = RawClient(cloud, "platform", username=cloud.service_credentials.username,
                       password="guess")

    assert client.code == mqtt.REFUSED_BAD_CREDENTIALS
    client.close()


def test_a_device_may_not_leave_a_last_will_on_another_things_topic(cloud, thing):
    # IoT Core policy, not MQTT: Mosquitto's default config has no per-thing identity.
    client = RawClient(cloud, thing, will=(f"smartlight/{new_thing()}/lwt", LWT))

    assert client.code == mqtt.REFUSED_NOT_AUTHORIZED
    client.close()


def publish_retained(client, topic, payload):
    client.client.publish(topic, payload, qos=1, retain=True).wait_for_publish(5)


def test_a_retained_message_reaches_later_subscribers_with_the_retain_flag(broker_mqtt, thing):
    topic = f"smartlight/{thing}/config"
    service = broker_mqtt()
    early = broker_mqtt()
    early.subscribe(topic)
    try:
        publish_retained(service, topic, b"retained")

        late = broker_mqtt()
        late.subscribe(topic)

        assert late.messages.get(timeout=3) == (topic, b"retained", True)
        # §3.3.1.3: a subscriber that was already there gets it with RETAIN 0.
        assert early.messages.get(timeout=3) == (topic, b"retained", False)
    finally:
        publish_retained(service, topic, b"")  # Mosquitto keeps retained messages on disk


def test_an_empty_retained_message_clears_the_retained_one(broker_mqtt, thing):
    # §3.3.1.3
    topic = f"smartlight/{thing}/config"
    service = broker_mqtt()
    publish_retained(service, topic, b"old")

    publish_retained(service, topic, b"")

    late = broker_mqtt()
    late.subscribe(topic)
    assert topic not in late.drain(0.3)


def test_a_qos_1_publish_is_acknowledged_with_its_packet_id(broker, thing):
    # §3.3.4, §4.3.2
    publisher = RawClient(broker, f"test-pub-{thing}", service=True)

    publisher.sock.sendall(mqtt.publish(f"smartlight/{thing}/status", b"1", 1, 0x1234))

    puback = publisher.read()
    assert puback.kind == mqtt.PUBACK
    assert mqtt.packet_id_of(puback.body) == 0x1234
    publisher.close()


def test_a_message_is_delivered_at_the_lower_of_its_qos_and_the_subscriptions(broker, thing):
    # §3.8.4: the delivery QoS is min(publish QoS, granted QoS).
    topic = f"smartlight/{thing}/status"
    at_1 = RawClient(broker, f"test-sub1-{thing}", service=True)
    at_0 = RawClient(broker, f"test-sub0-{thing}", service=True)
    assert at_1.subscribe(topic, qos=1) == [1]
    assert at_0.subscribe(topic, qos=0) == [0]
    publisher = RawClient(broker, f"test-pub-{thing}", service=True)

    publisher.publish(topic, b"qos1", qos=1)
    publisher.publish(topic, b"qos0", qos=0)

    received_topic, payload, qos, packet_id, retain, _ = at_1.receive()
    assert (received_topic, payload, qos, retain) == (topic, b"qos1", 1, False)
    assert packet_id != 0
    at_1.sock.sendall(mqtt.puback(packet_id))
    assert at_1.receive()[:3] == (topic, b"qos0", 0)
    assert at_0.receive()[:3] == (topic, b"qos1", 0)
    assert at_0.receive()[:3] == (topic, b"qos0", 0)
    for client in (at_1, at_0, publisher):
        client.close()


def end_session(broker, client_id):
    """Connect with a clean session and leave: §3.1.2.4 discards the stored one."""
    client = RawClient(broker, client_id, service=True)
    client.sock.sendall(mqtt.DISCONNECT_PACKET)
    client.close()


def test_a_persistent_session_gets_the_qos_1_messages_it_missed(broker_mqtt, broker, thing):
    # §3.1.2.4
    subscriber = broker_mqtt(thing, service=False, clean_session=False)
    subscriber.subscribe(f"smartlight/{thing}/cmd", qos=1)
    subscriber.close()
    try:
        broker_mqtt().publish(f"smartlight/{thing}/cmd", b"while-away", qos=1)

        back = broker_mqtt(thing, service=False, clean_session=False)

        assert back.expect_raw(f"smartlight/{thing}/cmd") == b"while-away"
        back.close()
    finally:
        end_session(broker, thing)


def test_an_unacknowledged_qos_1_message_is_sent_again_with_dup_on_resumption(broker, thing):
    # §4.4: on reconnecting with CleanSession 0 the server resends unacknowledged PUBLISH
    # packets with DUP 1 and the same packet id.
    topic = f"smartlight/{thing}/cmd"
    client_id = f"test-persistent-{thing}"
    subscriber = RawClient(broker, client_id, service=True, clean_session=False)
    try:
        assert subscriber.subscribe(topic, qos=1) == [1]
        RawClient(broker, f"test-pub-{thing}", service=True).publish(topic, b"unacked")
        _, payload, qos, packet_id, _, dup = subscriber.receive()
        assert (payload, qos, dup) == (b"unacked", 1, False)
        subscriber.close()  # no PUBACK, no DISCONNECT

        back = RawClient(broker, client_id, service=True, clean_session=False)

        assert back.session_present
        assert back.receive() == (topic, b"unacked", 1, packet_id, False, True)
        back.sock.sendall(mqtt.puback(packet_id))
        back.close()
    finally:
        end_session(broker, client_id)


def test_a_first_packet_other_than_connect_closes_the_connection(broker):
    # §3.1.0-1
    sock = socket.create_connection((broker.mqtt_host, broker.mqtt_port), timeout=3)
    sock.sendall(mqtt.PINGREQ_PACKET)

    try:
        answer = sock.recv(10)
    except ConnectionResetError:  # Mosquitto resets instead of closing: the same to a client
        answer = b""
    assert answer == b""
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
    # The credential is localcloud's; Mosquitto's default config checks none.
    from localcloud.client import parse_mqtt_url

    host, port, username, password = parse_mqtt_url(cloud.service_mqtt_url)
    client = RawClient(cloud, "platform-worker", username=username, password=password)

    assert (host, port) == (cloud.mqtt_host, cloud.mqtt_port)
    assert client.code == mqtt.ACCEPTED
    client.close()


def test_a_malformed_packet_closes_only_that_connection(broker, broker_mqtt, thing):
    # §4.8
    bystander = broker_mqtt()
    client = RawClient(broker, thing)

    client.sock.sendall(bytes((mqtt.SUBSCRIBE << 4 | 2, 1, 0)))  # SUBSCRIBE cut short

    assert client.seconds_until_closed(timeout=3) < 3
    assert bystander.subscribe(f"smartlight/{thing}/cmd") == [1]
