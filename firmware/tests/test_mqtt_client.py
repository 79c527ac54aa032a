"""The firmware's own MQTT 3.1.1 client against scripted broker byte streams, under real
MicroPython (WebAssembly) and CPython (checks/mqtt_client.py). Expected bytes are written out
from the MQTT 3.1.1 specification."""

from __future__ import annotations

import pytest

from .conftest import run_checks, value

pytestmark = pytest.mark.micropython

THING = b"sl-0123456789ab"


@pytest.fixture(scope="module", params=["micropython", "cpython"])
def client(request) -> dict:
    return run_checks(request.param, "mqtt_client", asynchronous=True)


def mqtt_str(s: bytes) -> bytes:
    return len(s).to_bytes(2, "big") + s


def test_connect_sends_mqtt_3_1_1_connect_with_will_keepalive_and_sni(client):
    v = value(client, "connect sends CONNECT with will and keepalive and accepts CONNACK")
    lwt = b"smartlight/sl-0123456789ab/lwt"
    # flags: clean session 0x02 | will 0x04 | will QoS 1 (0x08); keepalive 45 s
    body = mqtt_str(b"MQTT") + bytes([4, 0x0E, 0, 45]) + mqtt_str(THING)
    body += mqtt_str(lwt) + mqtt_str(b'{"c":0}')
    assert bytes(v["written"]) == bytes([0x10, len(body)]) + body
    # the SSL context and the endpoint as server_hostname (SNI) reach open_connection
    assert v["open"] == ["broker.local", 8883, "CTX", "broker.local"]


def test_a_refused_connack_raises_and_closes_the_socket(client):
    v = value(client, "a refused CONNACK raises and closes the socket")
    assert v == {"error": "connection refused, code 5", "closed": True}


def test_a_silent_broker_times_the_connect_out(client):
    v = value(client, "a silent broker times the connect out")
    assert v == {"timeout": "no CONNACK within 200 ms", "closed": True, "sent_connect": True}


def test_subscribe_waits_for_suback_and_reports_a_refusal(client):
    v = value(client, "subscribe waits for SUBACK and reports a refusal")
    assert bytes(v["subscribe"]) == bytes([0x82, 8, 0, 1]) + mqtt_str(b"a/b") + bytes([1])
    assert v["granted"] == 1
    assert v["refused"] == "subscription refused: x"


def test_an_incoming_qos1_publish_is_delivered_and_acknowledged(client):
    v = value(client, "an incoming QoS 1 PUBLISH is delivered and acknowledged with PUBACK")
    assert v["got"] == [["t/1", "hello"]]
    assert v["puback"] == [0x40, 2, 0x12, 0x34]


def test_qos1_publish_waits_for_puback_then_resends_with_dup_then_drops(client):
    v = value(client, "publish QoS 1 waits for PUBACK, resends once with DUP, then drops the link")
    assert bytes(v["first"]) == bytes([0x32, 7]) + mqtt_str(b"t") + bytes([0, 1]) + b"on"
    assert v["acked"] is True
    again = mqtt_str(b"t") + bytes([0, 2]) + b"again"
    assert bytes(v["resend"]) == bytes([0x32, 10]) + again + bytes([0x3A, 10]) + again
    assert v["lost"] == "no PUBACK" and v["connected"] is False and v["why"] == "no PUBACK"


def test_pingresp_keeps_the_link(client):
    v = value(client, "keepalive sends PINGREQ and PINGRESP keeps the link")
    assert v == {"pongs": 3, "pings": True, "alive": True}


def test_pings_are_as_rare_as_aws_allows_for_free_and_inside_the_keepalive(client):
    # AWS IoT does not charge PINGREQ/PINGRESP sent at most every 30 s
    v = value(client, "pings come every 30 s at the default keepalive, never after the keepalive")
    assert v == {"30": 20010, "45": 30000, "60": 30000, "1200": 600000}
    assert all(ms < int(k) * 1000 for k, ms in v.items())


def test_a_missing_pingresp_drops_the_link(client):
    v = value(client, "a missing PINGRESP drops the link")
    assert v == {"why": "no PINGRESP", "closed": True, "pinged": True}


def test_a_dropped_socket_ends_the_link(client):
    v = value(client, "a dropped socket ends the link")
    assert v == {"why": "read failed", "connected": False}


def test_queued_publishes_go_out_in_order_with_byte_lengths(client):
    v = value(client, "queued publishes from a callback go out in order")
    a = bytes([0x30, 4]) + mqtt_str(b"a") + b"1"
    b = bytes([0x30, 5]) + mqtt_str(b"b") + "ü".encode()
    assert bytes(v) == a + b


def test_a_malformed_remaining_length_drops_the_link(client):
    v = value(client, "a malformed remaining length drops the link")
    assert v.startswith("read failed: MQTTError('malformed remaining length'")
