"""Fixtures: localcloud with its own broker, and localcloud on Mosquitto (127.0.0.1:1883).

Tests that take `backend` run twice, once per broker; the Mosquitto run is skipped with a reason
when nothing answers on 1883. Tests that take `broker` (or `broker_mqtt`) also run once per
broker, but against the bare broker: they are the MQTT conformance tests both must pass.
Thing names are unique per test, and the Mosquitto-backed localcloud serves only this
session's prefix (`--things`), so parallel runs sharing one Mosquitto do not answer each
other's requests.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
import pytest

from localcloud.cloud import DEFAULT_SERVICE_PASSWORD, DEFAULT_SERVICE_USERNAME
from localcloud.testing import MOSQUITTO, Credentials, LocalCloud, ThingNames, mosquitto_answers

new_thing = ThingNames()


@pytest.fixture(scope="session")
def cloud():
    with LocalCloud(things=new_thing.prefix) as instance:
        yield instance


MOSQUITTO_SILENT = "Mosquitto does not answer on 127.0.0.1:1883 (CI has it)"


@dataclass(frozen=True)
class BrokerAddress:
    """A broker with no localcloud around it, shaped like LocalCloud for the MQTT helpers."""

    mqtt_host: str
    mqtt_port: int
    service_credentials: Credentials


@pytest.fixture(scope="session")
def mosquitto():
    """Mosquitto itself; its default config lets anyone in, so the credentials are ignored."""
    if not mosquitto_answers():
        pytest.skip(MOSQUITTO_SILENT)
    return BrokerAddress(*MOSQUITTO, Credentials(DEFAULT_SERVICE_USERNAME,
                                                 DEFAULT_SERVICE_PASSWORD))


@pytest.fixture(params=["localcloud", pytest.param("mosquitto", marks=pytest.mark.mosquitto)])
def broker(request):
    """localcloud's broker, then Mosquitto: for behaviour MQTT 3.1.1 defines for both."""
    return request.getfixturevalue("cloud" if request.param == "localcloud" else "mosquitto")


@pytest.fixture(scope="session")
def mosquitto_cloud():
    if not mosquitto_answers():
        pytest.skip(MOSQUITTO_SILENT)
    with LocalCloud(mqtt_url="mqtt://127.0.0.1:1883", things=new_thing.prefix) as instance:
        yield instance


@pytest.fixture(params=["localcloud", pytest.param("mosquitto", marks=pytest.mark.mosquitto)])
def backend(request):
    """localcloud with its own broker, then with Mosquitto."""
    return request.getfixturevalue("cloud" if request.param == "localcloud" else
                                   "mosquitto_cloud")


@pytest.fixture
def thing():
    return new_thing()


@pytest.fixture
def iot(backend):
    return backend.client("iot-data")


class Mqtt:
    """A paho-mqtt client that records what arrives, for assertions."""

    def __init__(self, cloud: LocalCloud | BrokerAddress, client_id: str | None = None, *,
                 service: bool = True, keepalive: int = 60,
                 will: tuple[str, bytes, int] | None = None,
                 clean_session: bool = True) -> None:
        self.client_id = client_id or f"test-{uuid.uuid4().hex[:12]}"
        self.messages: queue.Queue[tuple[str, bytes, bool]] = queue.Queue()
        self.seen: list[tuple[str, bytes]] = []
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.connect_code: int | None = None
        self._acks: dict[int, Any] = {}
        self._ack_events: dict[int, threading.Event] = {}
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             clean_session=clean_session, protocol=paho.MQTTv311)
        if service:
            client.username_pw_set(*cloud.service_credentials)
        if will is not None:
            client.will_set(will[0], will[1], qos=will[2])
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        self.client = client
        client.connect(cloud.mqtt_host, cloud.mqtt_port, keepalive=keepalive)
        client.loop_start()
        if not self.connected.wait(5):
            raise AssertionError(f"{self.client_id}: no CONNACK")

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.connect_code = reason_code.value
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.disconnected.set()

    def _on_message(self, client, userdata, message):
        self.messages.put((message.topic, message.payload, bool(message.retain)))

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        self._acks[mid] = [code.value for code in reason_codes]
        self._ack_events.setdefault(mid, threading.Event()).set()

    def subscribe(self, topic_filter: str, qos: int = 1) -> list[int]:
        result, mid = self.client.subscribe(topic_filter, qos)
        assert result == paho.MQTT_ERR_SUCCESS
        event = self._ack_events.setdefault(mid, threading.Event())
        assert event.wait(5), f"no SUBACK for {topic_filter}"
        return self._acks[mid]

    def publish(self, topic: str, payload: bytes | str | dict, qos: int = 1) -> None:
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        info = self.client.publish(topic, payload, qos=qos)
        if qos:
            info.wait_for_publish(5)

    def expect(self, topic: str, timeout: float = 5.0) -> Any:
        """The next message on `topic` as JSON (other topics are kept in `seen`)."""
        return json.loads(self.expect_raw(topic, timeout))

    def expect_raw(self, topic: str, timeout: float = 5.0) -> bytes:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"nothing on {topic} within {timeout}s; saw {self.topics()}")
            try:
                got, payload, _ = self.messages.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append((got, payload))
            if got == topic:
                return payload

    def drain(self, wait: float = 0.3) -> list[str]:
        """Topics that arrive within `wait` seconds."""
        topics = []
        deadline = time.monotonic() + wait
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                got, payload, _ = self.messages.get(timeout=remaining)
            except queue.Empty:
                break
            self.seen.append((got, payload))
            topics.append(got)
        return topics

    def topics(self) -> list[str]:
        return [t for t, _ in self.seen]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class MqttFactory:
    cloud: LocalCloud | BrokerAddress
    made: list[Mqtt]

    def __call__(self, client_id: str | None = None, **kwargs: Any) -> Mqtt:
        client = Mqtt(self.cloud, client_id, **kwargs)
        self.made.append(client)
        return client


@pytest.fixture
def mqtt_client(backend):
    """mqtt_client(client_id=None, service=True, ...) -> a connected paho client."""
    factory = MqttFactory(backend, [])
    yield factory
    for client in factory.made:
        client.close()


@pytest.fixture
def local_mqtt(cloud):
    """Like mqtt_client, on localcloud's own broker only (identity and broker behaviour)."""
    factory = MqttFactory(cloud, [])
    yield factory
    for client in factory.made:
        client.close()


@pytest.fixture
def broker_mqtt(broker):
    """Like mqtt_client, on the bare `broker` (localcloud's, then Mosquitto)."""
    factory = MqttFactory(broker, [])
    yield factory
    for client in factory.made:
        client.close()
