"""Fixtures for the devices tests: AWS through moto, lights in alice's home."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(autouse=True)
def no_simulator_frames(monkeypatch):
    """Strip pictures come from the state, whatever a local `make run` left in var/lights."""
    monkeypatch.setenv("SMARTLIGHT_SIM_DIR", "")


@pytest.fixture
def aws(aws, settings):
    """The root `aws` fixture with the shadow-events queue the consumer reads."""
    aws.client("sqs").create_queue(QueueName=settings.SHADOW_EVENTS_QUEUE)
    return aws


def register_thing(aws, thing: str) -> None:
    """moto's iot-data (unlike AWS) only keeps shadows of things known to the IoT registry."""
    aws.client("iot").create_thing(thingName=thing)


def live_shadow(aws, thing: str) -> dict:
    response = aws.client("iot-data").get_thing_shadow(thingName=thing)
    return json.loads(response["payload"].read())


REPORTED = {
    "on": True,
    "brightness": 200,
    "color": "#ff8800",
    "effect": "solid",
    "speed": 128,
    "connected": True,
    "fw": "1.0.0",
    "led_count": 60,
    "effects": ["solid", "rainbow", "breathe"],
}


@pytest.fixture
def light(home):
    from devices.models import Device, Room

    room = Room.objects.create(home=home, name="Living room")
    return Device.objects.create(
        home=home, room=room, name="Sofa strip", thing_name="sl-0000000000a1",
        reported=dict(REPORTED), desired={"on": True}, connected=True, shadow_version=3,
        fw="1.0.0",
    )


@pytest.fixture
def charlies_light(charlies_home):
    from devices.models import Device

    return Device.objects.create(
        home=charlies_home, name="Charlie's lamp", thing_name="sl-0000000000c1",
        reported=dict(REPORTED), connected=True,
    )


@pytest.fixture(scope="session")
def cloud():
    """One localcloud (subprocess, ephemeral ports) for the integration and browser tests."""
    from localcloud.testing import LocalCloud

    with LocalCloud() as cloud:
        yield cloud
