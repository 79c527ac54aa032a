"""Device Shadow over MQTT with paho-mqtt: the reserved topics of the AWS IoT developer guide
("Device Shadow MQTT topics"), against localcloud's broker and Mosquitto.

The document rules (limits, `null`, metadata, clientToken) are the ones test_shadow_http.py
checks over HTTP; here an error is the AWS error document on `/rejected`, with `code` the HTTP
status the same request gets over HTTP.
"""

from __future__ import annotations

import json
import time

import pytest

from localcloud.tests.shadow_rules import MALFORMED_UPDATES, TOO_DEEP, TOO_LARGE, nested


def root(thing, name=None):
    return f"$aws/things/{thing}/shadow/" + (f"name/{name}/" if name else "")


@pytest.fixture
def device(mqtt_client, thing):
    """The thing itself: client id = thing name, subscribed to all of its shadow topics."""
    client = mqtt_client(thing, service=False)
    assert client.subscribe(f"$aws/things/{thing}/shadow/#") == [1]
    return client


def update(device, thing, document):
    """Publish an update that must succeed; the `/update/accepted` document."""
    device.publish(root(thing) + "update", document)
    return device.expect(root(thing) + "update/accepted")


def rejected(device, thing, payload):
    """Publish an update that must fail; the error document on `/update/rejected`."""
    device.publish(root(thing) + "update", payload)
    return device.expect(root(thing) + "update/rejected")


def get(device, thing):
    device.publish(root(thing) + "get", b"")
    return device.expect(root(thing) + "get/accepted")


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


def test_a_state_over_8_kb_is_rejected_with_413_and_changes_nothing(device, thing):
    update(device, thing, {"state": {"reported": {"note": "x" * 4000}}})

    error = rejected(device, thing, {"state": {"desired": {"note": "y" * 4200}},
                                     "clientToken": "big"})

    assert (error["code"], error["message"]) == (413, TOO_LARGE)
    assert error["clientToken"] == "big"
    shadow = get(device, thing)
    assert shadow["version"] == 1
    assert "desired" not in shadow["state"]


def test_six_levels_of_nesting_are_accepted_and_seven_are_rejected_with_400(device, thing):
    assert update(device, thing, {"state": {"desired": nested(6)}})["version"] == 1

    error = rejected(device, thing, {"state": {"reported": nested(7)}, "clientToken": "deep"})

    assert (error["code"], error["message"]) == (400, TOO_DEEP)
    assert error["clientToken"] == "deep"
    assert get(device, thing)["version"] == 1


def test_a_client_token_of_64_bytes_is_echoed_and_65_is_rejected_with_400(device, thing):
    accepted = update(device, thing, {"state": {"desired": {}}, "clientToken": "t" * 64})
    assert accepted["clientToken"] == "t" * 64

    error = rejected(device, thing, {"state": {"desired": {}}, "clientToken": "t" * 65})

    assert (error["code"], error["message"]) == (400, "Invalid clientToken")
    assert get(device, thing)["version"] == 1


@pytest.mark.parametrize(("payload", "message"), MALFORMED_UPDATES)
def test_it_rejects_a_malformed_update_with_a_400_and_changes_nothing(device, thing, payload,
                                                                        message):
    update(device, thing, {"state": {"desired": {"on": True}}})

    error = rejected(device, thing, payload)

    assert (error["code"], error["message"]) == (400, message)
    assert abs(error["timestamp"] - time.time()) < 5
    assert get(device, thing)["version"] == 1


def test_a_rejection_for_a_missing_state_echoes_the_client_token(device, thing):
    error = rejected(device, thing, {"desired": {"on": True}, "clientToken": "no-state"})

    assert (error["code"], error["clientToken"]) == (400, "no-state")


def test_get_and_delete_of_an_unknown_shadow_echo_the_client_token(device, thing):
    device.publish(root(thing) + "get", {"clientToken": "g-404"})
    device.publish(root(thing) + "delete", {"clientToken": "d-404"})

    assert device.expect(root(thing) + "get/rejected") == {
        "code": 404, "message": f"No shadow exists with name: '{thing}'",
        "clientToken": "g-404", "timestamp": pytest.approx(time.time(), abs=5)}
    deleted = device.expect(root(thing) + "delete/rejected")
    assert (deleted["code"], deleted["clientToken"]) == (404, "d-404")


def test_a_null_leaf_removes_that_leaf_and_its_metadata(device, thing):
    update(device, thing, {"state": {"desired": {"on": True, "led": {"count": 60, "pin": 19}}}})

    accepted = update(device, thing, {"state": {"desired": {"on": None, "led": {"pin": None}}}})

    assert accepted["state"] == {"desired": {"on": None, "led": {"pin": None}}}
    assert accepted["version"] == 2
    shadow = get(device, thing)
    assert shadow["state"] == {"desired": {"led": {"count": 60}},
                               "delta": {"led": {"count": 60}}}
    assert set(shadow["metadata"]["desired"]) == {"led"}
    assert set(shadow["metadata"]["desired"]["led"]) == {"count"}


def test_desired_null_removes_the_whole_section(device, thing):
    update(device, thing, {"state": {"desired": {"on": True}, "reported": {"on": False}}})

    accepted = update(device, thing, {"state": {"desired": None}, "clientToken": "rm"})

    assert accepted["state"] == {"desired": None}
    assert accepted["clientToken"] == "rm"
    shadow = get(device, thing)
    assert shadow["state"] == {"reported": {"on": False}}
    assert set(shadow["metadata"]) == {"reported"}
    assert shadow["version"] == 2


def test_state_null_clears_the_state_but_keeps_the_shadow(device, thing):
    update(device, thing, {"state": {"desired": {"on": True}, "reported": {"on": False}}})

    assert update(device, thing, {"state": None})["version"] == 2

    shadow = get(device, thing)
    assert shadow["state"] == {}
    assert shadow["version"] == 2


def test_metadata_changes_only_for_the_leaves_an_update_touches(device, thing):
    first = update(device, thing, {"state": {"reported": {"on": True, "led": {"count": 60}}}})
    while time.time() < first["timestamp"] + 1:  # timestamps are whole epoch seconds
        time.sleep(0.02)

    second = update(device, thing, {"state": {"reported": {"on": False}}})

    assert second["timestamp"] > first["timestamp"]
    assert second["metadata"] == {"reported": {"on": {"timestamp": second["timestamp"]}}}
    metadata = get(device, thing)["metadata"]["reported"]
    assert metadata["on"] == {"timestamp": second["timestamp"]}
    assert metadata["led"] == {"count": {"timestamp": first["timestamp"]}}


def test_documents_hold_the_shadow_before_and_after_an_update(device, thing):
    first = update(device, thing, {"state": {"desired": {"on": True, "brightness": 10}}})
    device.expect(root(thing) + "update/documents")

    device.publish(root(thing) + "update", {"state": {"desired": {"brightness": None},
                                                      "reported": {"on": True}}})

    documents = device.expect(root(thing) + "update/documents")
    stamp = {"timestamp": first["timestamp"]}
    assert documents["previous"] == {
        "state": {"desired": {"on": True, "brightness": 10}},
        "metadata": {"desired": {"on": stamp, "brightness": stamp}},
        "version": 1,
    }
    now = {"timestamp": documents["timestamp"]}
    assert documents["current"] == {
        "state": {"desired": {"on": True}, "reported": {"on": True}},
        "metadata": {"desired": {"on": stamp}, "reported": {"on": now}},
        "version": 2,
    }
    assert "clientToken" not in documents


def test_a_rejected_update_publishes_no_accepted_delta_or_documents(device, thing):
    update(device, thing, {"state": {"reported": {"on": False}}})
    device.expect(root(thing) + "update/documents")
    before = len(device.seen)

    rejected(device, thing, {"state": {"desired": {"on": True}}, "version": 5})

    since = device.topics()[before:] + device.drain(0.3)
    # The device sees its own request (it subscribed to shadow/#), then only the rejection.
    assert since == [root(thing) + "update", root(thing) + "update/rejected"]
