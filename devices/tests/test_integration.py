"""End to end on the local system: API → shadow → simulated firmware → documents → SQS →
consumer → the portal's cached state; and presence through the Last Will."""

from __future__ import annotations

import json
import time

import pytest

from devices.models import Device
from devices.tests.stack import KEEPALIVE_S, Consumer, SimLights, point_settings_at
from localcloud.testing import eventually

pytestmark = pytest.mark.integration

THING = "sl-00000000e501"


def test_a_patch_reaches_the_strip_and_presence_follows_the_light(
    cloud, settings, client_for, bob, light, tmp_path
):
    # Given: the light runs the real firmware against localcloud and the consumer runs
    point_settings_at(cloud, settings)
    light.thing_name, light.reported, light.desired, light.shadow_version = THING, {}, {}, 0
    light.connected = False
    light.save()
    sims = SimLights(cloud, tmp_path, {THING: 30})
    consumer = Consumer(settings.SHADOW_EVENTS_QUEUE)
    try:
        sims.start()
        consumer.until(lambda: _device().connected and "effects" in _device().reported)
        assert _device().reported["led_count"] == 30

        # When: a member changes the light through the JSON API
        response = client_for(bob).patch(
            f"/api/v1/devices/{light.code}/state",
            data=json.dumps({"on": True, "color": "#00ff00", "brightness": 255,
                             "effect": "solid", "transition_ms": 0}),
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
        assert response.json()["pending"]  # asked, not yet shown

        # Then: the simulated strip renders it and the portal's cache shows it, not pending
        eventually(lambda: sims.frame(THING) == [[0, 255, 0]] * 30)
        consumer.until(lambda: _device().reported.get("color") == "#00ff00"
                       and not _device().pending)
        (live,) = client_for(bob).get("/api/v1/devices").json()
        assert live["shown"]["color"] == "#00ff00" and live["pending"] == {}
        seen_before = _device().last_seen
        assert seen_before is not None

        # When: the light loses power (no DISCONNECT)
        sims.kill()
        killed = time.monotonic()
        # Then: it shows offline within 1.5 x keepalive + 2 s, keeping when it was last seen
        consumer.until(lambda: not _device().connected, timeout=1.5 * KEEPALIVE_S + 2)
        assert time.monotonic() - killed <= 1.5 * KEEPALIVE_S + 2
        assert _device().last_seen == seen_before

        # When: it comes back, it is online again with the state it had
        sims.start()
        consumer.until(lambda: _device().connected, timeout=10)
        reported = _device().reported
        assert (reported["color"], reported["brightness"], reported["on"]) == (
            "#00ff00", 255, True)
        eventually(lambda: sims.frame(THING) == [[0, 255, 0]] * 30)
    finally:
        sims.kill()


def _device() -> Device:
    return Device.objects.get(thing_name=THING)
