"""End to end on localcloud: a one-off schedule a minute ahead, fired by the runner with a
controlled clock, changes a simulated light (the real firmware), and the portal shows the run."""

from __future__ import annotations

import datetime as dt
import secrets
import tempfile
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from schedules.models import Schedule
from schedules.runner import Runner

pytestmark = pytest.mark.integration

PREFIX = secrets.token_hex(3)  # thing names unique to this run (others share the machine)
THING = f"sl-{PREFIX}00e2e1"


@pytest.fixture(scope="module")
def cloud():
    from localcloud.testing import LocalCloud

    with LocalCloud(moto=False, things=f"sl-{PREFIX}") as cloud:
        yield cloud


@pytest.fixture(scope="module")
def light(cloud):
    from firmware.sim.fleet import Fleet

    with tempfile.TemporaryDirectory() as state_dir:
        fleet = Fleet.in_state_dir(state_dir, things=[THING], broker=cloud.mqtt_url, led_counts=[4])
        with fleet:
            assert fleet.wait_connected(15), "the simulated light did not connect"
            yield fleet.lights[THING]


def test_a_schedule_a_minute_ahead_changes_the_simulated_light_and_the_portal_shows_it(
    cloud, light, home, make_schedule, client_for, alice
):
    from devices.models import Device

    # Given a light in alice's home and a one-off schedule one minute from now (Berlin time),
    device = Device.objects.create(home=home, name="Hall", thing_name=THING)
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    local = (now + dt.timedelta(minutes=1)).astimezone(ZoneInfo(home.timezone))
    schedule = make_schedule(
        now=now,
        trigger="once",
        run_date=local.date(),
        run_time=local.time().replace(tzinfo=None),
        weekdays=[],
        devices=[str(device.code)],
        desired={"on": True, "color": "#00ff00", "brightness": 255, "transition_ms": 0},
    )
    due = now + dt.timedelta(minutes=1)
    assert schedule.next_run == due
    clock = [due - dt.timedelta(seconds=1)]
    runner = Runner(iot_data=cloud.client("iot-data"), clock=lambda: clock[0])

    # when the runner ticks just before and just after the minute,
    assert runner.tick() == []
    clock[0] = due + dt.timedelta(seconds=1)
    results = runner.tick()

    # then the light shows the colour,
    assert [r["status"] for r in results] == ["ok"]
    assert light.wait_for(lambda pixels: pixels == [[0, 255, 0]] * 4, timeout=10)
    assert light.state["color"] == "#00ff00"
    # and the portal shows the last run and its result.
    schedule.refresh_from_db()
    assert schedule.last_run == due
    assert schedule.next_run is None
    page = client_for(alice).get(reverse("schedule_list")).content.decode()
    assert due.astimezone(ZoneInfo(home.timezone)).strftime("%a %-d %b %Y, %H:%M") in page
    assert '<span class="badge">ok</span> (1 light)' in page
    assert Schedule.objects.get(pk=schedule.pk).last_result["ok"] == [THING]
