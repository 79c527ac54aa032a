"""The shadow engine on its own, and cross-checked with moto's iot-data where both follow AWS."""

from __future__ import annotations

import json

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from localcloud.shadow import ShadowStore, delta_of

THING = "sl-00000000abcd"


def test_delta_of_reports_leaves_that_differ_and_keeps_their_metadata():
    desired = {"on": True, "led": {"count": 60, "max_ma": 900}, "effects": ["a"]}
    reported = {"on": True, "led": {"count": 60, "max_ma": 500}, "effects": ["a"], "rssi": -50}
    meta = {"on": {"timestamp": 1}, "led": {"count": {"timestamp": 2},
                                            "max_ma": {"timestamp": 3}},
            "effects": [{"timestamp": 4}]}

    delta, delta_meta = delta_of(desired, reported, meta)

    assert delta == {"led": {"max_ma": 900}}
    assert delta_meta == {"led": {"max_ma": {"timestamp": 3}}}


def test_a_leaf_that_becomes_an_object_gets_metadata_per_new_leaf():
    store = ShadowStore()
    store.update(THING, "", b'{"state":{"reported":{"led":5}}}')

    store.update(THING, "", b'{"state":{"reported":{"led":{"count":60}}}}')

    shadow = store.shadows[(THING, "")]
    assert shadow.reported == {"led": {"count": 60}}
    assert set(shadow.reported_meta["led"]) == {"count"}


def test_the_previous_document_is_not_changed_by_the_update_it_precedes():
    store = ShadowStore()
    store.update(THING, "", b'{"state":{"reported":{"led":{"count":60}}}}')

    outcome = store.update(THING, "", b'{"state":{"reported":{"led":{"count":30}}}}')

    documents = json.loads(dict(outcome.messages)["update/documents"])
    assert documents["previous"]["state"]["reported"] == {"led": {"count": 60}}
    assert documents["current"]["state"]["reported"] == {"led": {"count": 30}}


def test_a_rejected_update_changes_nothing_and_calls_no_change_hook():
    changes = []
    store = ShadowStore(on_change=lambda: changes.append(1))
    store.update(THING, "", b'{"state":{"reported":{"on":true}}}')

    outcome = store.update(THING, "", b'{"state":{"reported":{"on":false}},"version":9}')

    assert outcome.status == 409
    assert [suffix for suffix, _ in outcome.messages] == ["update/rejected"]
    assert store.shadows[(THING, "")].reported == {"on": True}
    assert changes == [1]


def test_non_utf8_payloads_are_a_415():
    outcome = ShadowStore().update(THING, "", b'{"state":{"reported":{"x":"\xff"}}}')

    assert outcome.status == 415


def test_invalid_thing_and_shadow_names_are_a_400():
    store = ShadowStore()

    assert store.update("bad name", "", b'{"state":{}}').status == 400
    assert store.update(THING, "no/slash", b'{"state":{}}').status == 400


# --- cross-check with moto ------------------------------------------------------------------------
SEQUENCE = [
    {"state": {"desired": {"on": True, "led": {"count": 60, "max_ma": 900}, "color": "#ff0000"}}},
    {"state": {"reported": {"on": True, "led": {"count": 60, "max_ma": 500}, "fw": "1.0"}}},
    {"state": {"desired": {"color": None}, "reported": {"fw": None}}},
    {"state": {"reported": {"led": {"max_ma": 900}}}, "version": 3},
]


def run_sequence(update, get):
    states = []
    for document in SEQUENCE:
        update(document)
        states.append(get()["state"])
    return states


@mock_aws
def test_nested_delta_null_leaves_and_versions_agree_with_moto():
    boto3.client("iot", region_name="us-east-1").create_thing(thingName=THING)
    moto_iot = boto3.client("iot-data", region_name="us-east-1")

    def moto_update(document):
        moto_iot.update_thing_shadow(thingName=THING, payload=json.dumps(document))

    def moto_get():
        return json.loads(moto_iot.get_thing_shadow(thingName=THING)["payload"].read())

    store = ShadowStore()

    def local_update(document):
        assert store.update(THING, "", json.dumps(document).encode()).status == 200

    def local_get():
        return json.loads(store.get(THING, "").body)

    assert run_sequence(local_update, local_get) == run_sequence(moto_update, moto_get)
    assert local_get()["version"] == moto_get()["version"] == 4

    # Both answer a stale version with 409.
    with pytest.raises(moto_iot.exceptions.ConflictException):
        moto_iot.update_thing_shadow(thingName=THING,
                                     payload=json.dumps({"state": {}, "version": 1}))
    assert store.update(THING, "", b'{"state":{},"version":1}').status == 409


@mock_aws
def test_where_moto_keeps_a_nulled_desired_section_we_remove_it_as_aws_documents():
    boto3.client("iot", region_name="us-east-1").create_thing(thingName=THING)
    moto_iot = boto3.client("iot-data", region_name="us-east-1")
    store = ShadowStore()
    first = {"state": {"desired": {"on": True}, "reported": {"on": False}}}
    nulled = {"state": {"desired": None}}
    for document in (first, nulled):
        moto_iot.update_thing_shadow(thingName=THING, payload=json.dumps(document))
        store.update(THING, "", json.dumps(document).encode())

    moto_state = json.loads(moto_iot.get_thing_shadow(thingName=THING)["payload"].read())["state"]
    local_state = json.loads(store.get(THING, "").body)["state"]

    assert "desired" in moto_state
    assert local_state == {"reported": {"on": False}}


# --- properties -----------------------------------------------------------------------------------
keys = st.sampled_from(["on", "brightness", "color", "effect", "led", "speed"])
leaves = st.one_of(st.booleans(), st.integers(0, 255), st.sampled_from(["#ff0000", "solid"]),
                   st.lists(st.integers(0, 3), max_size=3))
sections = st.recursive(
    st.dictionaries(keys, leaves, max_size=4),
    lambda children: st.dictionaries(keys, st.one_of(leaves, children), max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(desired=sections, reported=sections)
def test_reporting_the_delta_always_clears_it(desired, reported):
    # The device contract: a device that applies the delta and reports it leaves no delta.
    store = ShadowStore()
    store.update(THING, "", json.dumps({"state": {"desired": desired,
                                                  "reported": reported}}).encode())
    before = json.loads(store.get(THING, "").body)["state"].get("delta", {})

    store.update(THING, "", json.dumps({"state": {"reported": before}}).encode())

    after = json.loads(store.get(THING, "").body)["state"]
    assert "delta" not in after
    # And the delta only ever named keys of desired.
    assert set(before) <= set(after.get("desired", {}))
