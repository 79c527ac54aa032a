"""Changes made elsewhere that schedules must follow: a home's clock, a light's targets."""

from __future__ import annotations

import datetime as dt

from schedules import actions
from schedules.models import MirrorOutbox

UTC = dt.UTC
NOW = dt.datetime(2026, 6, 15, 4, tzinfo=UTC)


def test_a_new_home_time_zone_moves_next_runs_and_queues_the_mirrors(home, make_schedule):
    schedule = make_schedule(now=NOW)
    assert schedule.next_run == dt.datetime(2026, 6, 15, 5, tzinfo=UTC)  # 07:00 Berlin
    MirrorOutbox.objects.all().delete()
    home.timezone = "America/New_York"
    home.save()
    assert actions.do_home_clock_changed(home, now=NOW) == 1
    schedule.refresh_from_db()
    assert schedule.next_run == dt.datetime(2026, 6, 15, 11, tzinfo=UTC)  # 07:00 EDT
    assert MirrorOutbox.objects.filter(code=schedule.code).exists()


def test_schedules_naming_a_light_or_its_room_are_queued_for_the_mirror(
    make_schedule, lamp, room, strip
):
    by_light = make_schedule(now=NOW)
    by_room = make_schedule(now=NOW, name="Room", devices=[], rooms=[str(room.code)])
    other = make_schedule(now=NOW, name="Other", devices=[str(strip.code)])
    MirrorOutbox.objects.all().delete()
    assert actions.mirror_schedules_targeting(devices=[lamp]) == 2
    queued = set(MirrorOutbox.objects.values_list("code", flat=True))
    assert queued == {by_light.code, by_room.code}
    assert other.code not in queued


def test_schedules_of_a_scene_are_queued_for_the_mirror(make_schedule, scene):
    schedule = make_schedule(now=NOW, devices=[], desired={}, scene=str(scene.code))
    MirrorOutbox.objects.all().delete()
    assert actions.mirror_schedules_targeting(scenes=[scene]) == 1
    assert MirrorOutbox.objects.filter(code=schedule.code).exists()
