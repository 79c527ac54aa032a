"""End to end on localcloud with real TLS: a bundle written by provision_device connects with
its certificate and is controlled from the platform; once removed, it is refused at CONNECT."""

from __future__ import annotations

import json
import queue

import paho.mqtt.client as mqtt
import pytest
from django.core.management import call_command

from devices import actions
from devices.models import Device
from devices.tests.stack import point_settings_at


@pytest.fixture
def local(cloud, settings, db):
    point_settings_at(cloud, settings)
    settings.IOT_SERVER_CA_FILE = str(cloud.ca_path)
    settings.IOT_MQTT_HOST = cloud.mqtts_host
    settings.IOT_MQTT_PORT = cloud.mqtts_port
    yield cloud
    from smartlight import aws

    aws.reset_clients()


def connect(bundle, client_id: str | None = None):
    """Connect as a light would from its bundle; returns (client, CONNACK reason, messages)."""
    config = json.loads((bundle / "config.json").read_text())
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or config["thing"],
                         protocol=mqtt.MQTTv311)
    client.tls_set(ca_certs=str(bundle / "certs/AmazonRootCA1.pem"),
                   certfile=str(bundle / "certs/certificate.pem.crt"),
                   keyfile=str(bundle / "certs/private.pem.key"))
    connacks: queue.Queue = queue.Queue()
    messages: queue.Queue = queue.Queue()
    client.on_connect = lambda c, u, flags, reason, props: connacks.put(reason)
    client.on_message = lambda c, u, msg: messages.put((msg.topic, json.loads(msg.payload)))
    try:
        client.connect(config["endpoint"], config["port"], keepalive=30)
    except OSError as exc:  # the listener may close the socket as its refusal
        return client, exc, messages
    client.loop_start()
    try:
        reason = connacks.get(timeout=10)
    except queue.Empty:
        reason = "no CONNACK"
    return client, reason, messages


def refused(reason) -> bool:
    return isinstance(reason, (OSError, str)) or reason.is_failure


def test_a_provisioned_bundle_connects_over_tls_and_is_controlled(
        local, home, tmp_path, django_capture_on_commit_callbacks):
    call_command("provision_device", "--home", str(home.code), "--name", "Desk strip",
                 "--out", str(tmp_path / "desk"), "--led-count", "30")
    device = Device.objects.get(name="Desk strip")
    client, reason, messages = connect(tmp_path / "desk")
    try:
        assert not refused(reason), reason
        thing = device.thing_name
        client.subscribe(f"$aws/things/{thing}/shadow/update/delta", qos=1)
        client.publish(f"$aws/things/{thing}/shadow/update",
                       json.dumps({"state": {"reported": {"on": False, "connected": True}}}),
                       qos=1).wait_for_publish(5)
        # The platform switches it on: the light receives the delta over its TLS connection.
        actions.do_set_desired(device, {"on": True})
        topic, payload = messages.get(timeout=10)
        assert topic == f"$aws/things/{thing}/shadow/update/delta"
        assert payload["state"] == {"on": True}
    finally:
        client.loop_stop()
        client.disconnect()

    # Another thing's name as client id is refused (the policy allows only its own).
    intruder, reason, _ = connect(tmp_path / "desk", client_id="sl-0000000000ff")
    intruder.loop_stop()
    assert refused(reason)

    # Removed: its certificate is deactivated, so the same bundle can no longer connect.
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_remove_device(device)
    client, reason, _ = connect(tmp_path / "desk")
    client.loop_stop()
    assert refused(reason)


def test_a_certificate_revoked_by_an_operator_is_refused_at_connect(local, home, tmp_path):
    call_command("provision_device", "--home", str(home.code), "--name", "Shed strip",
                 "--out", str(tmp_path / "shed"))
    device = Device.objects.get(name="Shed strip")
    client, reason, _ = connect(tmp_path / "shed")
    client.loop_stop()
    client.disconnect()
    assert not refused(reason), reason

    assert actions.do_revoke_certificate(device) == [device.certificate_id]
    client, reason, _ = connect(tmp_path / "shed")
    client.loop_stop()
    assert refused(reason)
