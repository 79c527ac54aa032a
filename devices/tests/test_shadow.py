from __future__ import annotations

import json

import pytest
from botocore.stub import Stubber

from devices import shadow
from devices.tests.conftest import REPORTED, live_shadow, register_thing
from smartlight import contract

THING = "sl-00000000beef"


def test_it_checks_the_effect_against_the_lights_own_effects(aws):
    register_thing(aws, THING)
    with pytest.raises(contract.InvalidState, match="not an effect of this light"):
        shadow.update_desired(THING, {"effect": "disco"}, REPORTED)
    shadow.update_desired(THING, {"effect": "rainbow"}, REPORTED)
    assert live_shadow(aws, THING)["state"]["desired"] == {"effect": "rainbow"}


def test_it_allows_a_schedules_long_fade_only_when_asked(aws):
    register_thing(aws, THING)
    with pytest.raises(contract.InvalidState, match="from 0 to 60000"):
        shadow.update_desired(THING, {"transition_ms": 900000})
    shadow.update_desired(THING, {"transition_ms": 900000},
                          max_transition_ms=shadow.FIRMWARE_MAX_TRANSITION_MS)
    assert live_shadow(aws, THING)["state"]["desired"] == {"transition_ms": 900000}


def test_it_writes_only_the_given_desired_keys(aws):
    register_thing(aws, THING)
    shadow.update_desired(THING, {"on": True, "color": "#112233"})
    shadow.update_desired(THING, {"brightness": 10})
    document = live_shadow(aws, THING)
    assert document["state"]["desired"] == {"on": True, "color": "#112233", "brightness": 10}
    assert document["version"] == 2


def test_it_sends_nothing_when_the_document_is_bad(aws):
    register_thing(aws, THING)
    shadow.update_desired(THING, {"on": True})
    with pytest.raises(contract.InvalidState):
        shadow.update_desired(THING, {"on": False, "color": "blue"})
    assert live_shadow(aws, THING)["state"]["desired"] == {"on": True}


def test_it_reads_the_shadow(aws):
    register_thing(aws, THING)
    shadow.update_desired(THING, {"speed": 7})
    assert shadow.get_shadow(THING)["state"]["desired"] == {"speed": 7}


def test_a_light_that_never_connected_is_not_found(aws):
    with pytest.raises(shadow.ShadowNotFound, match="never connected"):
        shadow.get_shadow(THING)


def test_a_stale_version_is_a_conflict(aws):
    register_thing(aws, THING)
    shadow.update_desired(THING, {"on": True})
    with pytest.raises(shadow.ShadowConflict):
        shadow.update_desired(THING, {"on": False}, version=9)
    assert live_shadow(aws, THING)["state"]["desired"] == {"on": True}


def test_it_publishes_a_command_on_the_cmd_topic(aws):
    # The payload carries a fresh id, so it is captured and checked after the call.
    stubber = Stubber(aws.client("iot-data"))
    sent = {}

    def capture(params, **kwargs):
        sent.update(params)

    events = aws.client("iot-data").meta.events
    events.register("provide-client-params.iot-data.Publish", capture)
    stubber.add_response("publish", {})
    try:
        with stubber:
            command_id = shadow.publish_cmd(THING, "identify")
    finally:
        events.unregister("provide-client-params.iot-data.Publish", capture)
    assert sent["topic"] == "smartlight/sl-00000000beef/cmd"
    assert json.loads(sent["payload"]) == {"id": command_id, "cmd": "identify"}


def test_it_refuses_unknown_commands(aws):
    with pytest.raises(contract.InvalidState):
        shadow.publish_cmd(THING, "selfdestruct")


def test_it_retries_throttling_then_succeeds(aws, monkeypatch):
    monkeypatch.setattr(shadow.time, "sleep", lambda s: None)
    client = aws.client("iot-data")
    with Stubber(client) as stubber:
        stubber.add_client_error("get_thing_shadow", "ThrottlingException", http_status_code=429)
        stubber.add_client_error("get_thing_shadow", "ThrottlingException", http_status_code=429)
        stubber.add_response("get_thing_shadow", {"payload": b'{"version": 4, "state": {}}'})
        assert shadow.get_shadow(THING)["version"] == 4
        stubber.assert_no_pending_responses()


def test_it_gives_up_after_persistent_throttling(aws, monkeypatch):
    monkeypatch.setattr(shadow.time, "sleep", lambda s: None)
    client = aws.client("iot-data")
    with Stubber(client) as stubber:
        for _ in range(len(shadow.RETRY_DELAYS) + 1):
            stubber.add_client_error("get_thing_shadow", "ThrottlingException",
                                     http_status_code=429)
        with pytest.raises(shadow.ShadowUnavailable, match="ThrottlingException"):
            shadow.get_shadow(THING)


def test_an_unreachable_data_plane_is_unavailable(settings):
    from smartlight import aws as factory

    settings.AWS_MODE = "local"
    settings.IOT_DATA_ENDPOINT_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    factory.reset_clients()
    try:
        with pytest.raises(shadow.ShadowUnavailable):
            shadow.get_shadow(THING)
    finally:
        factory.reset_clients()
