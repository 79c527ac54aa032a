"""Fixtures for the schedules tests: AWS through moto, lights, rooms and a scene in alice's home."""

from __future__ import annotations

import datetime as dt

import pytest

UTC = dt.UTC


@pytest.fixture
def room(home):
    from devices.models import Room

    return Room.objects.create(home=home, name="Bedroom")


@pytest.fixture
def lamp(home, room):
    from devices.models import Device

    return Device.objects.create(
        home=home, room=room, name="Bed lamp", thing_name="sl-0000000000b1"
    )


@pytest.fixture
def strip(home):
    from devices.models import Device

    return Device.objects.create(home=home, name="Desk strip", thing_name="sl-0000000000b2")


@pytest.fixture
def scene(home, lamp, strip):
    from devices.models import Scene

    return Scene.objects.create(
        home=home,
        name="Evening",
        states={
            lamp.thing_name: {"on": True, "brightness": 80, "color": "#ff8800"},
            strip.thing_name: {"on": False},
        },
    )


@pytest.fixture
def charlies_lamp(charlies_home):
    from devices.models import Device

    return Device.objects.create(
        home=charlies_home, name="Charlie's lamp", thing_name="sl-0000000000c1"
    )


def weekly_raw(lamp, **overrides) -> dict:
    raw = {
        "name": "Wake up",
        "trigger": "weekly",
        "run_time": dt.time(7, 0),
        "weekdays": [0, 1, 2, 3, 4],
        "devices": [str(lamp.code)],
        "desired": {"on": True, "brightness": 255, "transition_ms": 900_000},
    }
    raw.update(overrides)
    return raw


@pytest.fixture
def make_schedule(home, lamp):
    """make_schedule(**raw overrides, now=...) creates a schedule through the action."""
    from schedules import actions

    def make(now: dt.datetime | None = None, target_home=None, **overrides):
        target = target_home or home
        data = actions.clean_schedule(target, weekly_raw(lamp, **overrides), now=now)
        return actions.do_create_schedule(target, data, now=now)

    return make


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """committed(when): freeze the clock at `when` and run on_commit callbacks on exit."""
    import contextlib

    import time_machine

    @contextlib.contextmanager
    def run(when: dt.datetime | None = None):
        with contextlib.ExitStack() as stack:
            if when is not None:
                stack.enter_context(time_machine.travel(when, tick=False))
            stack.enter_context(django_capture_on_commit_callbacks(execute=True))
            yield

    return run
