"""Device Shadow over MQTT with paho-mqtt: the reserved topics of the AWS IoT developer guide
("Device Shadow MQTT topics"), against localcloud's broker and Mosquitto."""

from __future__ import annotations

import json

import pytest


def root(thing, name=None):
    return f"$aws/things/{thing}/shadow/" + (f"name/{name}/" if name else "")


@pytest.fixture
def device(mqtt_client, thing):
    """The thing itself: client id = thing name, subscribed to all of its shadow topics."""
    client = mqtt_client(thing, service=False)
    assert client.subscribe(f"$aws/things/{thing}/shadow/#") == [1]
    return client


def test_an_update_is_answered_on_accepted_with_the_client_token(device, thing):
    device.publish(root(thing) + "update",
                   {"state": {"reported": {"on": True}}, "clientToken": "abc"})

    accepted = device.expect(root(thing) + "update/accepted")

    assert accepted["state"] == {"reported": {"on": True}}
    assert accepted["clientToken"] == "abc"
    assert accepted["version"] == 1
    assert accepted["metadata"]["reported"]["on"]["timestamp"] == accepted["timestamp"]


def test_the_delta_carries_every_differing_field_and_only_when_there_is_one(device, thing):
    device.publish(root(thing) + "update",
                   {"state": {"reported": {"on": False, "brightness": 10, "color": "#00ff00"}}})
    device.expect(root(thing) + "update/accepted")
    assert root(thing) + "update/delta" not in device.drain(0.3)

    device.publish(root(thing) + "update",
                   {"state": {"desired": {"on": True, "brightness": 10, "color": "#ff0000"}},
                    "clientToken": "d-1"})

    delta = device.expect(root(thing) + "update/delta")
    assert delta["state"] == {"on": True, "color": "#ff0000"}
    assert delta["version"] == 2
    assert delta["clientToken"] == "d-1"
    assert set(delta["metadata"]) == {"on", "color"}

    device.publish(root(thing) + "update",
                   {"state": {"reported": {"on": True, "color": "#ff0000"}}})
    device.expect(root(thing) + "update/accepted")
    assert root(thing) + "update/delta" not in device.drain(0.3)


def test_documents_carry_previous_and_current_with_metadata_and_version(device, thing):
    device.publish(root(thing) + "update", {"state": {"reported": {"on": False}}})
    first = device.expect(root(thing) + "update/documents")
    assert first["previous"] is None
    assert first["current"]["version"] == 1

    device.publish(root(thing) + "update", {"state": {"desired": {"on": True}},
                                            "clientToken": "x"})

    documents = device.expect(root(thing) + "update/documents")
    assert documents["previous"]["state"] == {"reported": {"on": False}}
    assert documents["previous"]["version"] == 1
    assert documents["current"]["state"] == {"desired": {"on": True},
                                             "reported": {"on": False}}
    assert set(documents["current"]["metadata"]) == {"desired", "reported"}
    assert documents["current"]["version"] == 2
    assert documents["clientToken"] == "x"
    assert isinstance(documents["timestamp"], int)


def test_a_rejected_update_gets_the_error_document_on_rejected(device, thing):
    device.publish(root(thing) + "update",
                   {"state": {"desired": {"on": True}}, "version": 7, "clientToken": "v-7"})

    error = device.expect(root(thing) + "update/rejected")

    assert error["code"] == 409
    assert error["message"] == "Version conflict"
    assert error["clientToken"] == "v-7"
    assert isinstance(error["timestamp"], int)


def test_invalid_json_is_rejected_with_a_400(device, thing):
    device.publish(root(thing) + "update", b"{oops")

    error = device.expect(root(thing) + "update/rejected")

    assert (error["code"], error["message"]) == (400, "Invalid JSON")


def test_get_answers_the_full_document_on_get_accepted(device, thing):
    device.publish(root(thing) + "update", {"state": {"desired": {"on": True}}})
    device.expect(root(thing) + "update/accepted")

    device.publish(root(thing) + "get", {"clientToken": "g-1"})

    document = device.expect(root(thing) + "get/accepted")
    assert document["state"] == {"desired": {"on": True}, "delta": {"on": True}}
    assert document["clientToken"] == "g-1"
    assert document["version"] == 1


def test_get_with_an_empty_payload_works_and_an_unknown_shadow_is_404(device, thing):
    device.publish(root(thing) + "get", b"")

    error = device.expect(root(thing) + "get/rejected")

    assert error["code"] == 404
    assert error["message"] == f"No shadow exists with name: '{thing}'"


def test_delete_answers_on_delete_accepted(device, thing):
    device.publish(root(thing) + "update", {"state": {"reported": {"on": True}}})
    device.expect(root(thing) + "update/accepted")

    device.publish(root(thing) + "delete", {"clientToken": "del"})

    deleted = device.expect(root(thing) + "delete/accepted")
    assert deleted["version"] == 1
    assert deleted["clientToken"] == "del"
    device.publish(root(thing) + "get", b"")
    assert device.expect(root(thing) + "get/rejected")["code"] == 404


def test_named_shadows_have_their_own_topics(device, thing):
    device.publish(root(thing, "ota") + "update", {"state": {"desired": {"fw": "2.0"}}})

    assert device.expect(root(thing, "ota") + "update/delta")["state"] == {"fw": "2.0"}
    device.publish(root(thing) + "get", b"")
    assert device.expect(root(thing) + "get/rejected")["code"] == 404


def test_an_http_update_publishes_accepted_delta_and_documents(iot, device, thing):
    iot.update_thing_shadow(thingName=thing, payload=json.dumps(
        {"state": {"desired": {"brightness": 99}}, "clientToken": "http"}))

    assert device.expect(root(thing) + "update/accepted")["clientToken"] == "http"
    assert device.expect(root(thing) + "update/delta")["state"] == {"brightness": 99}
    assert device.expect(root(thing) + "update/documents")["current"]["version"] == 1


def test_an_http_rejection_is_not_published_on_mqtt(iot, device, thing):
    with pytest.raises(iot.exceptions.ConflictException):
        iot.update_thing_shadow(thingName=thing,
                                payload=json.dumps({"state": {"desired": {}}, "version": 4}))

    assert root(thing) + "update/rejected" not in device.drain(0.4)


def test_subscribers_of_the_update_topic_see_the_request_too(mqtt_client, device, thing):
    observer = mqtt_client()
    observer.subscribe(root(thing) + "update")

    device.publish(root(thing) + "update", {"state": {"reported": {"on": True}}})

    assert observer.expect(root(thing) + "update") == {"state": {"reported": {"on": True}}}
