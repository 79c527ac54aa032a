"""Device Shadow over the IoT data-plane HTTP API, driven by boto3's own `iot-data` client.

Each rule cites the AWS IoT developer guide page it comes from; every test runs against
localcloud's broker and against Mosquitto (the HTTP API is the same, the MQTT side differs).
"""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from localcloud.tests.shadow_rules import MALFORMED_UPDATES, TOO_DEEP, TOO_LARGE, nested


def update(iot, thing, document, name=None):
    kwargs = {"shadowName": name} if name else {}
    response = iot.update_thing_shadow(thingName=thing, payload=json.dumps(document), **kwargs)
    return json.loads(response["payload"].read())


def get(iot, thing, name=None):
    kwargs = {"shadowName": name} if name else {}
    return json.loads(iot.get_thing_shadow(thingName=thing, **kwargs)["payload"].read())


def rejected(iot, thing, payload, name=None):
    """Send a raw update that must fail; return (status, error code name, error document)."""
    kwargs = {"shadowName": name} if name else {}
    with pytest.raises(ClientError) as excinfo:
        iot.update_thing_shadow(thingName=thing, payload=payload, **kwargs)
    error = excinfo.value.response
    return (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"],
            error["Error"]["Message"])


def test_update_creates_the_shadow_and_answers_the_accepted_document(iot, thing):
    accepted = update(iot, thing, {"state": {"desired": {"on": True, "color": "#ff0000"}},
                                   "clientToken": "token-1"})

    assert accepted["state"] == {"desired": {"on": True, "color": "#ff0000"}}
    assert accepted["version"] == 1
    assert accepted["clientToken"] == "token-1"
    stamp = accepted["timestamp"]
    assert abs(stamp - time.time()) < 5
    assert accepted["metadata"] == {"desired": {"on": {"timestamp": stamp},
                                                "color": {"timestamp": stamp}}}


def test_a_shadow_does_not_need_the_thing_in_the_registry(backend, thing):
    # AWS: shadows belong to thing names, registered or not (moto's iot-data insists on one).
    with pytest.raises(ClientError):
        backend.client("iot").describe_thing(thingName=thing)

    accepted = update(backend.client("iot-data"), thing, {"state": {"reported": {"on": False}}})

    assert accepted["version"] == 1


def test_get_returns_state_delta_metadata_and_version(iot, thing):
    update(iot, thing, {"state": {"desired": {"on": True, "brightness": 200}}})
    update(iot, thing, {"state": {"reported": {"on": True, "brightness": 10, "fw": "1.0"}}})

    shadow = get(iot, thing)

    assert shadow["state"] == {
        "desired": {"on": True, "brightness": 200},
        "reported": {"on": True, "brightness": 10, "fw": "1.0"},
        "delta": {"brightness": 200},
    }
    assert set(shadow["metadata"]) == {"desired", "reported"}
    assert set(shadow["metadata"]["reported"]) == {"on", "brightness", "fw"}
    assert shadow["version"] == 2
    assert "timestamp" in shadow


def test_get_of_a_shadow_that_does_not_exist_is_404(iot, thing):
    with pytest.raises(iot.exceptions.ResourceNotFoundException) as excinfo:
        iot.get_thing_shadow(thingName=thing)

    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert excinfo.value.response["Error"]["Message"] == f"No shadow exists with name: '{thing}'"


def test_delete_removes_the_shadow_and_get_then_answers_404(iot, thing):
    update(iot, thing, {"state": {"desired": {"on": True}}})
    update(iot, thing, {"state": {"desired": {"on": False}}})

    deleted = json.loads(iot.delete_thing_shadow(thingName=thing)["payload"].read())

    assert deleted["version"] == 2
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.get_thing_shadow(thingName=thing)
    with pytest.raises(iot.exceptions.ResourceNotFoundException):
        iot.delete_thing_shadow(thingName=thing)


def test_a_shadow_created_again_continues_the_deleted_ones_version(iot, thing):
    # "Interacting with shadows": a shadow re-created within 48 hours follows the old version.
    update(iot, thing, {"state": {"desired": {"on": True}}})
    update(iot, thing, {"state": {"desired": {"on": False}}})
    iot.delete_thing_shadow(thingName=thing)

    accepted = update(iot, thing, {"state": {"desired": {"on": True}}})

    assert accepted["version"] == 3
    assert get(iot, thing)["state"] == {"desired": {"on": True}, "delta": {"on": True}}


def test_version_increments_on_every_update(iot, thing):
    versions = [update(iot, thing, {"state": {"reported": {"rssi": -60 - i}}})["version"]
                for i in range(4)]

    assert versions == [1, 2, 3, 4]


def test_an_update_with_a_stale_version_is_a_409_and_changes_nothing(iot, thing):
    update(iot, thing, {"state": {"desired": {"on": True}}})
    update(iot, thing, {"state": {"desired": {"on": False}}})

    status, code, message = rejected(
        iot, thing, json.dumps({"state": {"desired": {"on": True}}, "version": 1}))

    assert (status, code, message) == (409, "ConflictException", "Version conflict")
    shadow = get(iot, thing)
    assert shadow["version"] == 2
    assert shadow["state"]["desired"] == {"on": False}


def test_an_update_with_the_current_version_is_accepted(iot, thing):
    update(iot, thing, {"state": {"desired": {"on": True}}})

    accepted = update(iot, thing, {"state": {"desired": {"on": False}}, "version": 1})

    assert accepted["version"] == 2


def test_a_version_for_a_shadow_that_does_not_exist_yet_must_be_zero(iot, thing):
    # AWS compares against the latest version it has, none yet (moto raises on this instead).
    status, code, _ = rejected(iot, thing, json.dumps({"state": {"desired": {}}, "version": 5}))
    assert (status, code) == (409, "ConflictException")

    assert update(iot, thing, {"state": {"desired": {"on": True}}, "version": 0})["version"] == 1


def test_delta_compares_nested_objects_down_to_their_leaves(iot, thing):
    update(iot, thing, {"state": {"reported": {"led": {"count": 60, "pin": 19, "max_ma": 500}}}})

    update(iot, thing, {"state": {"desired": {"led": {"count": 60, "max_ma": 900}}}})

    assert get(iot, thing)["state"]["delta"] == {"led": {"max_ma": 900}}


def test_delta_compares_arrays_as_whole_values(iot, thing):
    update(iot, thing, {"state": {"reported": {"effects": ["solid", "rainbow"]}}})
    update(iot, thing, {"state": {"desired": {"effects": ["solid", "rainbow"]}}})
    assert "delta" not in get(iot, thing)["state"]

    update(iot, thing, {"state": {"desired": {"effects": ["rainbow", "solid"]}}})

    assert get(iot, thing)["state"]["delta"] == {"effects": ["rainbow", "solid"]}


def test_a_field_only_in_reported_is_never_in_the_delta(iot, thing):
    update(iot, thing, {"state": {"reported": {"on": True, "rssi": -70}}})

    update(iot, thing, {"state": {"desired": {"on": True}}})

    assert "delta" not in get(iot, thing)["state"]


def test_booleans_and_numbers_are_different_values_in_the_delta(iot, thing):
    update(iot, thing, {"state": {"reported": {"on": 1}}})

    update(iot, thing, {"state": {"desired": {"on": True}}})

    assert get(iot, thing)["state"]["delta"] == {"on": True}


def test_a_null_leaf_removes_that_leaf_and_its_metadata(iot, thing):
    update(iot, thing, {"state": {"desired": {"on": True, "led": {"count": 60, "pin": 19}}}})

    accepted = update(iot, thing, {"state": {"desired": {"on": None, "led": {"pin": None}}}})

    assert accepted["state"] == {"desired": {"on": None, "led": {"pin": None}}}
    shadow = get(iot, thing)
    assert shadow["state"]["desired"] == {"led": {"count": 60}}
    assert set(shadow["metadata"]["desired"]) == {"led"}
    assert set(shadow["metadata"]["desired"]["led"]) == {"count"}


def test_desired_null_removes_the_whole_section(iot, thing):
    update(iot, thing, {"state": {"desired": {"on": True}, "reported": {"on": False}}})

    update(iot, thing, {"state": {"desired": None}})

    shadow = get(iot, thing)
    assert shadow["state"] == {"reported": {"on": False}}
    assert set(shadow["metadata"]) == {"reported"}


def test_state_null_clears_the_state_but_keeps_the_shadow(iot, thing):
    update(iot, thing, {"state": {"desired": {"on": True}, "reported": {"on": False}}})

    accepted = update(iot, thing, {"state": None})

    assert accepted["version"] == 2
    shadow = get(iot, thing)
    assert shadow["state"] == {}
    assert shadow["version"] == 2


def test_metadata_changes_only_for_the_leaves_an_update_touches(iot, thing):
    first = update(iot, thing, {"state": {"reported": {"on": True, "led": {"count": 60}}}})
    while time.time() < first["timestamp"] + 1:  # timestamps are whole epoch seconds
        time.sleep(0.02)

    second = update(iot, thing, {"state": {"reported": {"on": False}}})

    metadata = get(iot, thing)["metadata"]["reported"]
    assert second["timestamp"] > first["timestamp"]
    assert metadata["on"] == {"timestamp": second["timestamp"]}
    assert metadata["led"] == {"count": {"timestamp": first["timestamp"]}}


def test_metadata_of_an_array_has_a_timestamp_per_element(iot, thing):
    accepted = update(iot, thing, {"state": {"reported": {"effects": ["solid", "rainbow"]}}})

    stamp = {"timestamp": accepted["timestamp"]}
    assert get(iot, thing)["metadata"]["reported"]["effects"] == [stamp, stamp]


def test_a_client_token_of_64_bytes_is_accepted_and_65_is_a_400(iot, thing):
    ok = update(iot, thing, {"state": {"desired": {}}, "clientToken": "t" * 64})
    assert ok["clientToken"] == "t" * 64

    status, code, message = rejected(
        iot, thing, json.dumps({"state": {"desired": {}}, "clientToken": "t" * 65}))

    assert (status, code, message) == (400, "InvalidRequestException", "Invalid clientToken")


def test_a_state_over_8_kb_is_a_413_and_changes_nothing(iot, thing):
    update(iot, thing, {"state": {"reported": {"note": "x" * 4000}}})

    status, code, message = rejected(
        iot, thing, json.dumps({"state": {"desired": {"note": "y" * 4200}}}))

    assert (status, code) == (413, "RequestEntityTooLargeException")
    assert message == TOO_LARGE
    shadow = get(iot, thing)
    assert shadow["version"] == 1
    assert "desired" not in shadow["state"]


def test_six_levels_of_nesting_are_accepted_and_seven_are_a_400(iot, thing):
    assert update(iot, thing, {"state": {"desired": nested(6)}})["version"] == 1

    status, code, message = rejected(iot, thing, json.dumps({"state": {"desired": nested(7)}}))

    assert (status, code) == (400, "InvalidRequestException")
    assert message == TOO_DEEP


@pytest.mark.parametrize(("payload", "message"), MALFORMED_UPDATES)
def test_it_rejects_a_malformed_update_with_a_400_and_changes_nothing(iot, thing, payload,
                                                                        message):
    update(iot, thing, {"state": {"desired": {"on": True}}})

    status, code, got = rejected(iot, thing, payload)

    assert (status, code, got) == (400, "InvalidRequestException", message)
    assert get(iot, thing)["version"] == 1


def test_error_bodies_carry_code_message_timestamp_and_client_token(backend, thing):
    import urllib.request

    request = urllib.request.Request(
        f"{backend.http_url}/things/{thing}/shadow", method="POST",
        data=json.dumps({"state": {"desired": {}}, "version": 9, "clientToken": "c-1"}).encode())
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request, timeout=5)

    assert excinfo.value.code == 409
    assert excinfo.value.headers["x-amzn-ErrorType"] == "ConflictException"
    body = json.loads(excinfo.value.read())
    assert body["code"] == 409
    assert body["message"] == "Version conflict"
    assert body["clientToken"] == "c-1"
    assert abs(body["timestamp"] - time.time()) < 5


def test_named_shadows_are_separate_from_the_classic_one_and_listed(iot, thing):
    update(iot, thing, {"state": {"desired": {"on": True}}})
    update(iot, thing, {"state": {"desired": {"mode": "night"}}}, name="schedule")
    update(iot, thing, {"state": {"reported": {"ota": "idle"}}}, name="ota")

    assert get(iot, thing)["state"]["desired"] == {"on": True}
    assert get(iot, thing, "schedule")["state"]["desired"] == {"mode": "night"}
    assert get(iot, thing, "schedule")["version"] == 1
    listed = iot.list_named_shadows_for_thing(thingName=thing)
    assert listed["results"] == ["ota", "schedule"]

    iot.delete_thing_shadow(thingName=thing, shadowName="ota")

    assert iot.list_named_shadows_for_thing(thingName=thing)["results"] == ["schedule"]
    assert get(iot, thing)["version"] == 1


def test_listing_named_shadows_pages_with_next_token(iot, thing):
    for name in ("a", "b", "c"):
        update(iot, thing, {"state": {"desired": {"x": 1}}}, name=name)

    first = iot.list_named_shadows_for_thing(thingName=thing, pageSize=2)
    second = iot.list_named_shadows_for_thing(thingName=thing, pageSize=2,
                                              nextToken=first["nextToken"])

    assert first["results"] == ["a", "b"]
    assert second["results"] == ["c"]
    assert "nextToken" not in second


def test_publish_over_http_reaches_mqtt_subscribers(iot, mqtt_client, thing):
    observer = mqtt_client()
    observer.subscribe(f"smartlight/{thing}/cmd")

    iot.publish(topic=f"smartlight/{thing}/cmd", qos=1,
                payload=json.dumps({"id": "1", "cmd": "identify"}))

    assert observer.expect(f"smartlight/{thing}/cmd") == {"id": "1", "cmd": "identify"}


def test_publishing_to_the_update_topic_over_http_updates_the_shadow(iot, mqtt_client, thing):
    observer = mqtt_client()
    observer.subscribe(f"$aws/things/{thing}/shadow/update/accepted")

    iot.publish(topic=f"$aws/things/{thing}/shadow/update", qos=1,
                payload=json.dumps({"state": {"reported": {"on": True}}}))

    assert observer.expect(f"$aws/things/{thing}/shadow/update/accepted")["version"] == 1
    assert get(iot, thing)["state"]["reported"] == {"on": True}


def raw_request(backend, method, path, data=None):
    """(status, error type header, JSON body) of a request the boto3 client would not send."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(backend.http_url + path, method=method, data=data)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, None, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["x-amzn-ErrorType"], json.loads(error.read())


def test_an_unsupported_method_on_a_shadow_is_a_405(backend, thing):
    status, error_type, _ = raw_request(backend, "PUT", f"/things/{thing}/shadow", b"{}")

    assert (status, error_type) == (405, "MethodNotAllowedException")


def test_publishing_with_qos_2_over_http_is_a_400(backend, thing):
    status, error_type, body = raw_request(backend, "POST", f"/topics/smartlight%2F{thing}%2Fcmd"
                                           "?qos=2", b"{}")

    assert (status, error_type) == (400, "InvalidRequestException")
    assert "QoS" in body["message"]


def test_an_unknown_path_is_a_404(backend):
    status, error_type, _ = raw_request(backend, "GET", "/nothing/here")

    assert (status, error_type) == (404, "ResourceNotFoundException")
