from __future__ import annotations

from django.core.management import call_command

from accounts.models import Home
from devices.management.commands.seed_demo import DEMO_LIGHTS
from devices.models import Device


def test_it_creates_three_demo_lights_in_demo_home(db, settings, tmp_path):
    settings.BASE_DIR = tmp_path
    call_command("seed_demo", "--quiet")
    home = Home.objects.get(name="Demo Home")
    lights = {d.thing_name: d for d in Device.objects.filter(home=home)}
    assert sorted(lights) == sorted(t for t, *_ in DEMO_LIGHTS)
    assert sorted(d.reported["led_count"] for d in lights.values()) == [30, 60, 150]
    assert {d.room.name for d in lights.values()} == {"Office", "Living room"}


def test_running_it_again_changes_nothing(db, settings, tmp_path):
    settings.BASE_DIR = tmp_path
    call_command("seed_demo", "--quiet")
    desk = Device.objects.get(thing_name=DEMO_LIGHTS[0][0])
    desk.name = "My desk"
    desk.save()
    call_command("seed_demo", "--quiet")
    assert Device.objects.count() == 3 and Home.objects.count() == 1
    assert Device.objects.get(pk=desk.pk).name == "My desk"
