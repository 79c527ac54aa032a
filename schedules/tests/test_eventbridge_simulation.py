"""A year of EventBridge firing, simulated, against `next_runs`: the mirrors fire every run, once,
at its instant, in every zone, across every clock change.

The model of EventBridge (schedules/tests/eventbridge.py) is written from the AWS documentation:
rules evaluate their cron in UTC; Scheduler evaluates cron and at() in the schedule's zone,
skipping a local time in a spring-forward gap and running one in a fall-back overlap once. The
platform writes each mirror with its real backend class (schedules.mirror); after each fire the
real schedule Lambda (lambda/schedule_handler.py) runs with what the backend delivers and
re-points the mirror, as in production; every fire is delivered twice (EventBridge delivers at
least once), and the second delivery must change nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pytest

from schedules import actions, mirror, timing
from schedules.runner import lambda_module
from schedules.tests.eventbridge import AwsCron, Cloud, next_fire

UTC = dt.UTC
YEAR_START = dt.datetime(2027, 1, 1, tzinfo=UTC)
YEAR_END = dt.datetime(2028, 1, 1, tzinfo=UTC)
LATENCY = dt.timedelta(seconds=3)  # EventBridge fires within the minute; the Lambda then runs

# (zone, latitude, longitude): northern and southern daylight saving, negative DST (Dublin),
# 30-minute DST (Lord Howe), a 45-minute offset (Chatham), no DST (Kolkata), polar sun (Tromsø).
ZONES = [
    ("Europe/Berlin", 52.52, 13.40),
    ("Europe/Dublin", 53.35, -6.26),
    ("America/New_York", 40.71, -74.01),
    ("America/Santiago", -33.45, -70.67),
    ("Australia/Lord_Howe", -31.55, 159.08),
    ("Pacific/Chatham", -43.95, -176.55),
    ("Asia/Kolkata", 22.57, 88.36),
    ("Europe/Oslo", 69.65, 18.96),
]
BACKENDS = ["rules", "scheduler"]

# Kinds a year is simulated for, in every zone and backend.
YEAR_KINDS = {
    "daily 02:30": {"trigger": "weekly", "run_time": dt.time(2, 30), "weekdays": list(range(7))},
    "Sundays 02:30": {"trigger": "weekly", "run_time": dt.time(2, 30), "weekdays": [6]},
    "weekdays 00:15": {"trigger": "weekly", "run_time": dt.time(0, 15),
                       "weekdays": [0, 1, 2, 3, 4]},
    "cron 30 2 * * *": {"trigger": "cron", "cron": "30 2 * * *"},
    "cron 15 0 * * 1-5": {"trigger": "cron", "cron": "15 0 * * 1-5"},
    "sunrise": {"trigger": "sunrise"},
    "sunset -30 min": {"trigger": "sunset", "offset_minutes": -30},
}
# Hourly (8,760 runs a year) and every 15 minutes (35,040): each Lambda run costs the
# simulation about a quarter of a millisecond, so these run all year in the zones whose
# offsets are not whole hours (the around-change tests below run dense crons in every zone).
HOURLY = "0 * * * *"
HOURLY_ZONES = {"rules": ["Pacific/Chatham"], "scheduler": ["Europe/Dublin"]}
DENSE = "*/15 * * * *"
DENSE_ZONES = {"rules": ["Australia/Lord_Howe"], "scheduler": []}


@dataclass
class Simulation:
    """One schedule's mirror in a simulated AWS, fired and re-pointed until `end`."""

    cloud: Cloud
    backend: str
    code: str
    fires: list[dt.datetime] = field(default_factory=list)
    writes: int = 0

    @property
    def name(self) -> str:
        return mirror.mirror_name(self.code)

    def push(self, now: dt.datetime) -> None:
        """What the outbox task does after the commit of a change."""
        self.cloud.clock.now = now
        mirror.push(self.code, now=now, backend_name=self.backend)

    def run_until(self, end: dt.datetime, redeliver_every: int = 1) -> None:
        handler = lambda_module().handler
        while True:
            fire = self.cloud.next_fire(self.backend, self.name, self.cloud.clock.now)
            if fire is None or fire >= end:
                self.cloud.clock.now = end
                return
            self.cloud.clock.now = fire + LATENCY
            event = self.cloud.store(self.backend).delivered(self.name, fire)
            before = len(self.cloud.iot.writes)
            kwargs = {"iot_data": self.cloud.iot, "events": self.cloud.events,
                      "scheduler": self.cloud.scheduler}
            result = handler(event, None, now=self.cloud.clock.now, **kwargs)
            assert result["status"] == "ok", result
            assert len(self.cloud.iot.writes) > before
            self.fires.append(fire)
            if len(self.fires) % redeliver_every == 0:
                # The same event again (at-least-once delivery): nothing is written.
                writes = len(self.cloud.iot.writes)
                again = handler(event, None, now=self.cloud.clock.now + LATENCY, **kwargs)
                assert again["status"] == "duplicate", again
                assert len(self.cloud.iot.writes) == writes


def mismatch(fired: list[dt.datetime], expected: list[dt.datetime], zone: str) -> str | None:
    """None when equal, else the first difference in local time."""
    if fired == expected:
        return None
    local = ZoneInfo(zone)
    missing = sorted(set(expected) - set(fired))
    extra = sorted(set(fired) - set(expected))
    twice = sorted({f for f in fired if fired.count(f) > 1})

    def show(xs):
        return [f"{x.astimezone(local):%Y-%m-%d %H:%M%z}" for x in xs[:3]]

    return f"missing {show(missing)} extra {show(extra)} twice {show(twice)} in {zone}"


@pytest.fixture
def cloud(monkeypatch, settings):
    # The Lambda's one log line per run would dominate the run time of a simulated year.
    monkeypatch.setattr(lambda_module().log, "level", logging.WARNING)
    cloud = Cloud(YEAR_START)
    monkeypatch.setattr(mirror.aws, "client", cloud.client)
    settings.SCHEDULE_LAMBDA_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:sl-schedule"
    return cloud


@pytest.fixture
def homes(alice):
    from accounts.actions import do_create_home
    from devices.models import Device

    found = {}
    for i, (zone, lat, lon) in enumerate(ZONES):
        home = do_create_home(alice, zone, timezone=zone)
        home.latitude, home.longitude = lat, lon
        home.save(update_fields=["latitude", "longitude"])
        lamp = Device.objects.create(home=home, name="Lamp", thing_name=f"sl-{i:012x}")
        found[zone] = (home, lamp)
    return found


def create(homes, zone: str, raw: dict, now: dt.datetime):
    home, lamp = homes[zone]
    data = actions.clean_schedule(home, {
        "name": "Simulated", "devices": [str(lamp.code)], "desired": {"on": True},
        "weekdays": [], **raw}, now=now)
    return actions.do_create_schedule(home, data, now=now)


def expected_runs(schedule, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    runs = []
    for run in timing.iter_runs(schedule.as_trigger(), start):
        if run >= end:
            break
        runs.append(run)
    return runs


def simulate_year(cloud, homes, backend, zone, raw,
                  redeliver_every: int = 1) -> tuple[list, list, Simulation]:
    schedule = create(homes, zone, raw, YEAR_START)
    sim = Simulation(cloud, backend, str(schedule.code))
    sim.push(YEAR_START)
    sim.run_until(YEAR_END, redeliver_every)
    return sim.fires, expected_runs(schedule, YEAR_START, YEAR_END), sim


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_year_of_every_kind_fires_exactly_at_next_runs_in_every_zone(
    cloud, homes, backend
):
    problems = []
    total = 0
    for zone, _, _ in ZONES:
        for kind, raw in YEAR_KINDS.items():
            fired, expected, _ = simulate_year(cloud, homes, backend, zone, raw,
                                               redeliver_every=3)
            total += len(fired)
            problem = mismatch(fired, expected, zone)
            if problem:
                problems.append(f"{kind}: {problem}")
    assert problems == []
    # Every kind really ran all year (Tromsø has weeks without a sunrise or sunset).
    assert total > 8 * (365 + 52 + 260 + 365 + 260) + 7 * 2 * 365


@pytest.mark.parametrize("backend", BACKENDS)
def test_hourly_and_every_15_minutes_fire_all_year_without_a_gap_or_a_repeat(
    cloud, homes, backend
):
    runs = [(zone, HOURLY, 8_700) for zone in HOURLY_ZONES[backend]]
    runs += [(zone, DENSE, 34_900) for zone in DENSE_ZONES[backend]]
    for zone, cron, at_least in runs:
        fired, expected, _ = simulate_year(cloud, homes, backend, zone,
                                           {"trigger": "cron", "cron": cron},
                                           redeliver_every=7)
        assert mismatch(fired, expected, zone) is None, cron
        assert len(fired) == len(expected) > at_least


def clock_changes(zone: str) -> list[dt.datetime]:
    return list(timing._offset_changes(zone, 2027))


AROUND_KINDS = {
    "Sundays 02:30": {"trigger": "weekly", "run_time": dt.time(2, 30), "weekdays": [6]},
    "daily 00:15": {"trigger": "weekly", "run_time": dt.time(0, 15), "weekdays": list(range(7))},
}
# Every 15 minutes through the hours clocks change in (Santiago changes at midnight), created
# on fewer days: it fires 24 times a night.
AROUND_DENSE = {"trigger": "cron", "cron": "*/15 0-3,23 * * *"}
AROUND_DENSE_DAYS = (-7, -1, 0, 1, 7)
# Days before (-) and after a change on which schedules are created or edited: the whole week
# either side, densest next to the change.
AROUND_DAYS = (-7, -4, -2, -1, 0, 1, 2, 4, 7)


@pytest.mark.parametrize("backend", BACKENDS)
def test_schedules_created_in_the_week_before_or_after_a_clock_change_fire_right(
    cloud, homes, backend
):
    problems = []
    for zone, _, _ in ZONES:
        for change in clock_changes(zone):
            for day in AROUND_DAYS:
                created = change + dt.timedelta(days=day, minutes=37)
                end = max(change, created) + dt.timedelta(days=1, hours=12)
                kinds = dict(AROUND_KINDS)
                if day in AROUND_DENSE_DAYS:
                    kinds["every 15 min at night"] = AROUND_DENSE
                for kind, raw in kinds.items():
                    schedule = create(homes, zone, raw, created)
                    sim = Simulation(cloud, backend, str(schedule.code))
                    sim.push(created)
                    sim.run_until(end, redeliver_every=3)
                    expected = expected_runs(schedule, created, cloud.clock.now)
                    problem = mismatch(sim.fires, expected, zone)
                    if problem:
                        problems.append(f"{kind} created {created:%Y-%m-%d %H:%M}Z: {problem}")
    assert problems == []
    assert sum(len(clock_changes(z)) for z, _, _ in ZONES) >= 12


@pytest.mark.parametrize("backend", BACKENDS)
def test_schedules_edited_in_the_week_before_or_after_a_clock_change_fire_right(
    cloud, homes, backend
):
    problems = []
    for zone, _, _ in ZONES:
        home, lamp = homes[zone]
        for change in clock_changes(zone):
            start = change - dt.timedelta(days=8)
            for day in AROUND_DAYS:
                edited = change + dt.timedelta(days=day, hours=5, minutes=11)
                end = max(change, edited) + dt.timedelta(days=2)
                schedule = create(homes, zone, AROUND_KINDS["daily 00:15"], start)
                sim = Simulation(cloud, backend, str(schedule.code))
                sim.push(start)
                sim.run_until(edited)
                before = expected_runs(schedule, start, edited)
                # Moved into the hours a clock change skips or repeats, on Sundays and Mondays.
                raw = {**actions.data_from_schedule(schedule), "run_time": dt.time(2, 30),
                       "weekdays": [0, 6]}
                actions.do_update_schedule(schedule, actions.clean_schedule(home, raw, now=edited),
                                           now=edited)
                sim.push(edited)
                sim.run_until(end)
                expected = before + expected_runs(schedule, edited, end)
                problem = mismatch(sim.fires, expected, zone)
                if problem:
                    problems.append(f"edited {edited:%Y-%m-%d %H:%M}Z: {problem}")
    assert problems == []


# --- the model itself can fail: designs that do not follow next_runs are caught ---------------
def test_the_model_catches_a_recurring_utc_rule_that_goes_stale_after_spring_forward():
    # Sundays 02:30 Berlin written as a UTC cron while Berlin is on UTC+1.
    trigger = timing.Trigger(kind="weekly", tz="Europe/Berlin", time=dt.time(2, 30),
                             weekdays=(6,))
    written = dt.datetime(2027, 3, 22, 12, tzinfo=UTC)
    fires, after = [], written
    while (fire := next_fire("cron(30 1 ? * SUN *)", "UTC", written, after)) < dt.datetime(
        2027, 4, 12, tzinfo=UTC
    ):
        fires.append(fire)
        after = fire
    expected = timing.next_runs(trigger, written, 3)
    assert expected[1] == dt.datetime(2027, 4, 4, 0, 30, tzinfo=UTC)  # 02:30 CEST
    assert fires[1] == dt.datetime(2027, 4, 4, 1, 30, tzinfo=UTC)  # 03:30 CEST: shifted
    assert mismatch(fires, expected, "Europe/Berlin") is not None


def test_the_model_skips_a_scheduler_cron_time_in_the_spring_forward_gap():
    trigger = timing.Trigger(kind="weekly", tz="Europe/Berlin", time=dt.time(2, 30),
                             weekdays=tuple(range(7)))
    written = dt.datetime(2027, 3, 26, 12, tzinfo=UTC)
    fires, after = [], written
    for _ in range(3):
        after = next_fire("cron(30 2 * * ? *)", "Europe/Berlin", written, after)
        fires.append(after)
    # 27 March 02:30 CET, 28 March skipped (02:30 does not exist), 29 March 02:30 CEST.
    assert fires == [dt.datetime(2027, 3, 27, 1, 30, tzinfo=UTC),
                     dt.datetime(2027, 3, 29, 0, 30, tzinfo=UTC),
                     dt.datetime(2027, 3, 30, 0, 30, tzinfo=UTC)]
    expected = timing.next_runs(trigger, written, 3)
    assert expected[1] == dt.datetime(2027, 3, 28, 1, 30, tzinfo=UTC)  # runs shifted to 03:30
    assert mismatch(fires, expected, "Europe/Berlin") is not None


def test_the_model_runs_a_scheduler_cron_time_in_the_fall_back_overlap_once():
    written = dt.datetime(2027, 10, 30, 12, tzinfo=UTC)
    first = next_fire("cron(30 2 * * ? *)", "Europe/Berlin", written, written)
    second = next_fire("cron(30 2 * * ? *)", "Europe/Berlin", written, first)
    assert first == dt.datetime(2027, 10, 31, 0, 30, tzinfo=UTC)  # 02:30 CEST, the first one
    assert second == dt.datetime(2027, 11, 1, 1, 30, tzinfo=UTC)  # not 02:30 CET again


def test_the_model_reads_aws_cron_fields():
    cron = AwsCron.parse("cron(0/15 8-9 ? JAN-MAR MON-FRI 2027)")
    assert cron.minutes == (0, 15, 30, 45) and cron.hours == (8, 9)
    assert cron.next_wall(dt.datetime(2027, 1, 2, 0, 0)) == dt.datetime(2027, 1, 4, 8, 0)
    assert cron.next_wall(dt.datetime(2027, 3, 31, 9, 46)) is None
    assert AwsCron.parse("cron(0 12 L * ? *)").next_wall(
        dt.datetime(2027, 2, 1)) == dt.datetime(2027, 2, 28, 12, 0)
    assert AwsCron.parse("cron(0 12 ? * 6#3 *)").next_wall(
        dt.datetime(2027, 1, 1)) == dt.datetime(2027, 1, 15, 12, 0)
    with pytest.raises(ValueError):
        AwsCron.parse("cron(0 12 * * MON *)")  # day-of-month and day-of-week both given


def test_a_deleted_schedule_stops_firing_and_a_late_event_writes_nothing(cloud, homes):
    schedule = create(homes, "Europe/Berlin", YEAR_KINDS["daily 02:30"], YEAR_START)
    sim = Simulation(cloud, "rules", str(schedule.code))
    sim.push(YEAR_START)
    sim.run_until(YEAR_START + dt.timedelta(days=3))
    event = json.loads(cloud.events.rules[sim.name].input)
    actions.do_delete_schedule(schedule)
    sim.push(cloud.clock.now)
    assert sim.name not in cloud.events.rules
    writes = len(cloud.iot.writes)
    result = lambda_module().handler(event, None, iot_data=cloud.iot, events=cloud.events,
                                     now=cloud.clock.now)
    assert result["status"] == "gone"
    assert len(cloud.iot.writes) == writes
