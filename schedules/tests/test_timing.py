"""When schedules run: daylight saving, 29 February, the midnight sun, cron edge cases."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from astral import Observer
from astral import sun as astral_sun
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import timing
from schedules.timing import Trigger, TriggerError

UTC = dt.UTC


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def weekly(tz: str, hour: int, minute: int, days=tuple(range(7))) -> Trigger:
    return Trigger(kind="weekly", tz=tz, time=dt.time(hour, minute), weekdays=tuple(days))


# --- daylight saving: Europe/Berlin ----------------------------------------------------------
def test_it_runs_at_the_same_wall_time_before_and_after_the_spring_change_in_berlin():
    runs = timing.next_runs(weekly("Europe/Berlin", 7, 0), at(2026, 3, 27, 12), 3)
    # 07:00 CET is 06:00 UTC; from Sunday 29 March 07:00 CEST is 05:00 UTC.
    assert runs == [at(2026, 3, 28, 6), at(2026, 3, 29, 5), at(2026, 3, 30, 5)]


def test_it_shifts_a_time_that_does_not_exist_in_berlin_forward_by_the_gap():
    # 02:30 on 29 March 2026 does not exist (02:00 CET jumps to 03:00 CEST): it runs at
    # 03:30 CEST = 01:30 UTC, the instant 02:30 CET would have been.
    runs = timing.next_runs(weekly("Europe/Berlin", 2, 30), at(2026, 3, 28, 12), 2)
    assert runs == [at(2026, 3, 29, 1, 30), at(2026, 3, 30, 0, 30)]
    assert runs[0].astimezone(timing.ZoneInfo("Europe/Berlin")).strftime("%H:%M %Z") == (
        "03:30 CEST"
    )


def test_it_runs_a_time_that_happens_twice_in_berlin_once_at_its_first_occurrence():
    # 02:30 on 25 October 2026 happens at 00:30 UTC (CEST) and again at 01:30 UTC (CET).
    runs = timing.next_runs(weekly("Europe/Berlin", 2, 30), at(2026, 10, 24, 12), 3)
    assert runs == [at(2026, 10, 25, 0, 30), at(2026, 10, 26, 1, 30), at(2026, 10, 27, 1, 30)]


def test_it_does_not_rerun_an_ambiguous_time_when_asked_between_its_two_occurrences():
    runs = timing.next_runs(weekly("Europe/Berlin", 2, 30), at(2026, 10, 25, 0, 45), 1)
    assert runs == [at(2026, 10, 26, 1, 30)]


# --- daylight saving: America/New_York -------------------------------------------------------
def test_it_shifts_a_time_that_does_not_exist_in_new_york_forward_by_the_gap():
    # 8 March 2026: 02:00 EST jumps to 03:00 EDT; 02:30 runs at 07:30 UTC (03:30 EDT).
    runs = timing.next_runs(weekly("America/New_York", 2, 30), at(2026, 3, 7, 12), 3)
    assert runs == [at(2026, 3, 8, 7, 30), at(2026, 3, 9, 6, 30), at(2026, 3, 10, 6, 30)]


def test_it_runs_a_time_that_happens_twice_in_new_york_once_at_its_first_occurrence():
    # 1 November 2026: 01:30 happens at 05:30 UTC (EDT) and at 06:30 UTC (EST).
    runs = timing.next_runs(weekly("America/New_York", 1, 30), at(2026, 10, 31, 12), 2)
    assert runs == [at(2026, 11, 1, 5, 30), at(2026, 11, 2, 6, 30)]


def test_it_keeps_weekday_seven_am_across_the_new_york_autumn_change():
    runs = timing.next_runs(
        weekly("America/New_York", 7, 0, days=(0, 1, 2, 3, 4)), at(2026, 10, 29, 12), 3
    )
    assert runs == [at(2026, 10, 30, 11), at(2026, 11, 2, 12), at(2026, 11, 3, 12)]


def test_a_one_off_time_inside_the_gap_runs_shifted_forward():
    trigger = Trigger(
        kind="once", tz="America/New_York", date=dt.date(2026, 3, 8), time=dt.time(2, 15)
    )
    assert timing.next_runs(trigger, at(2026, 1, 1), 5) == [at(2026, 3, 8, 7, 15)]


def test_cron_runs_in_the_spring_gap_move_forward_without_duplicates():
    trigger = Trigger(kind="cron", tz="Europe/Berlin", cron="*/30 1-3 * * *")
    runs = timing.next_runs(trigger, at(2026, 3, 29, 0, 0), 4)
    # 01:30 CET; 02:00 and 02:30 (missing) become 03:00 and 03:30 CEST, which are also the
    # real 03:00 and 03:30: each instant runs once. The next day starts at 01:00 CEST.
    assert runs == [
        at(2026, 3, 29, 0, 30),
        at(2026, 3, 29, 1, 0),
        at(2026, 3, 29, 1, 30),
        at(2026, 3, 29, 23, 0),
    ]


def test_cron_runs_in_the_repeated_autumn_hour_run_once():
    trigger = Trigger(kind="cron", tz="Europe/Berlin", cron="*/30 1-3 * * *")
    runs = timing.next_runs(trigger, at(2026, 10, 24, 23, 0), 6)
    assert runs == [
        at(2026, 10, 24, 23, 30),
        at(2026, 10, 25, 0, 0),
        at(2026, 10, 25, 0, 30),
        at(2026, 10, 25, 2, 0),
        at(2026, 10, 25, 2, 30),
        at(2026, 10, 26, 0, 0),
    ]


def test_it_finds_the_next_utc_offset_change():
    zone = timing.ZoneInfo("Europe/Berlin")
    assert timing.next_offset_change(zone, at(2026, 1, 10)) == at(2026, 3, 29, 1)
    assert timing.next_offset_change(zone, at(2026, 4, 1)) == at(2026, 10, 25, 1)
    assert timing.next_offset_change(timing.ZoneInfo("UTC"), at(2026, 1, 1)) is None


# --- 29 February ---------------------------------------------------------------------------
def test_a_cron_for_29_february_runs_only_in_leap_years():
    trigger = Trigger(kind="cron", tz="America/New_York", cron="0 7 29 2 *")
    assert timing.next_runs(trigger, at(2026, 3, 1), 2) == [
        at(2028, 2, 29, 12),
        at(2032, 2, 29, 12),
    ]


def test_a_one_off_on_29_february_is_accepted_and_runs_then():
    trigger = Trigger(kind="once", tz="Europe/Berlin", date=dt.date(2028, 2, 29), time=dt.time(8))
    timing.validate(trigger, at(2026, 6, 1))
    assert timing.next_runs(trigger, at(2026, 6, 1), 5) == [at(2028, 2, 29, 7)]


def test_a_weekly_schedule_passes_through_29_february():
    runs = timing.next_runs(weekly("UTC", 9, 0, days=(1,)), at(2028, 2, 27), 2)  # Tuesdays
    assert runs == [at(2028, 2, 29, 9), at(2028, 3, 7, 9)]


# --- cron edge cases -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("* * * *", "5 fields"),
        ("0 0 * * * 2026", "5 fields"),
        ("61 * * * *", "not a valid cron"),
        ("0 25 * * *", "not a valid cron"),
        ("every day", "5 fields"),
        ("0 0 30 2 *", "never matches"),
        ("0 0 31 4 *", "never matches"),
    ],
)
def test_it_rejects_bad_cron(expression, reason):
    with pytest.raises(TriggerError) as caught:
        timing.validate(Trigger(kind="cron", tz="UTC", cron=expression), at(2026, 1, 1))
    assert caught.value.field == "cron"
    assert reason in caught.value.reason


def test_cron_weekday_seven_and_zero_both_mean_sunday():
    for expression in ("0 9 * * 0", "0 9 * * 7", "0 9 * * sun"):
        runs = timing.next_runs(Trigger(kind="cron", tz="UTC", cron=expression), at(2026, 5, 1), 2)
        assert runs == [at(2026, 5, 3, 9), at(2026, 5, 10, 9)], expression


def test_cron_day_of_month_and_weekday_together_mean_either():
    # Vixie cron: "13th of the month OR Friday"; May 2026 has Friday 1st, 8th and Wed 13th.
    trigger = Trigger(kind="cron", tz="UTC", cron="0 12 13 * 5")
    runs = timing.next_runs(trigger, at(2026, 4, 30), 4)
    assert runs == [
        at(2026, 5, 1, 12),
        at(2026, 5, 8, 12),
        at(2026, 5, 13, 12),
        at(2026, 5, 15, 12),
    ]


def test_cron_runs_at_the_last_minute_of_the_year_in_local_time():
    trigger = Trigger(kind="cron", tz="Europe/Berlin", cron="59 23 31 12 *")
    assert timing.next_runs(trigger, at(2026, 6, 1), 1) == [at(2026, 12, 31, 22, 59)]


def test_a_cron_is_normalised_for_whitespace():
    assert timing.validate_cron("  */15   6-22 * *  1-5 ") == "*/15 6-22 * * 1-5"


# --- the cron fast path agrees with croniter's buffered walk ------------------------------------
CRON_PARTS = st.sampled_from(["*", "0", "*/15", "30", "0,30", "5-10", "*/7", "59"])
HOUR_PARTS = st.sampled_from(["*", "0", "1-3", "2", "*/5", "23", "0,12"])
DOM_PARTS = st.sampled_from(["*", "1", "15", "28-31", "*/10"])
MONTH_PARTS = st.sampled_from(["*", "3", "10-11", "*/4"])
DOW_PARTS = st.sampled_from(["*", "0", "1-5", "6,0", "3"])
CRON_ZONES = st.sampled_from(["Europe/Berlin", "America/Santiago", "Australia/Lord_Howe",
                              "Pacific/Chatham", "Europe/Dublin", "UTC"])


@settings(max_examples=300, deadline=None)
@given(
    st.tuples(CRON_PARTS, HOUR_PARTS, DOM_PARTS, MONTH_PARTS, DOW_PARTS),
    CRON_ZONES,
    st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2028, 12, 31)),
)
def test_the_next_cron_run_is_what_the_buffered_croniter_walk_gives(fields, tz, naive):
    trigger = Trigger(kind="cron", tz=tz, cron=" ".join(fields))
    after = naive.replace(tzinfo=UTC)
    assert timing._cron_next(trigger, after) == next(
        timing._cron_runs_buffered(trigger, after), None)


def test_the_next_cron_run_agrees_with_croniter_around_every_clock_change():
    for tz in ("Europe/Berlin", "Europe/Dublin", "America/Santiago", "Australia/Lord_Howe",
               "Pacific/Chatham"):
        for change in timing._offset_changes(tz, 2027):
            for cron in ("*/15 * * * *", "30 2 * * *", "0 0-3,23 * * *", "45 1,2 * * 0"):
                trigger = Trigger(kind="cron", tz=tz, cron=cron)
                for minutes in range(-300, 300, 7):
                    after = change + dt.timedelta(minutes=minutes)
                    assert timing._cron_next(trigger, after) == next(
                        timing._cron_runs_buffered(trigger, after), None), (tz, cron, after)


# --- sunrise and sunset ----------------------------------------------------------------------
LONGYEARBYEN = {"latitude": 78.22, "longitude": 15.65}


def test_sunrise_with_an_offset_runs_that_long_before_astrals_sunrise():
    trigger = Trigger(
        kind="sunrise", tz="Europe/Berlin", offset_minutes=-30, latitude=52.52, longitude=13.405
    )
    run = timing.next_runs(trigger, at(2026, 6, 1), 1)[0]
    expected = astral_sun.sunrise(Observer(52.52, 13.405), dt.date(2026, 6, 1), tzinfo=UTC)
    assert run == expected.replace(second=0, microsecond=0) - dt.timedelta(minutes=30)


def test_it_skips_the_days_on_which_the_sun_does_not_set_and_says_so():
    trigger = Trigger(kind="sunset", tz="Europe/Oslo", **LONGYEARBYEN)
    runs = timing.next_runs(trigger, at(2026, 6, 21), 2)
    # Midnight sun at 78° N lasts until late August: the first sunset is then.
    assert runs[0].date() >= dt.date(2026, 8, 20)
    assert runs[0].date() <= dt.date(2026, 8, 30)
    assert runs[1] - runs[0] < dt.timedelta(days=1, hours=1)
    assert "does not set" in trigger.notes[0]
    assert "skipped" in trigger.notes[0]


def test_it_skips_polar_night_for_sunrise():
    trigger = Trigger(kind="sunrise", tz="Europe/Oslo", **LONGYEARBYEN)
    run = timing.next_runs(trigger, at(2026, 12, 1), 1)[0]
    assert dt.date(2027, 2, 10) <= run.date() <= dt.date(2027, 2, 25)


@pytest.mark.parametrize(
    ("tz", "latitude", "longitude", "day", "local"),
    [
        # The sun rises at 05:29 in Kolkata on 1 April 2027: 23:59 UTC on 31 March.
        ("Asia/Kolkata", 22.57, 88.36, dt.date(2027, 4, 1), "05:29"),
        # In Tromsø on 14 May 2027 it rises at 01:56 CEST: 23:56 UTC on 13 May.
        ("Europe/Oslo", 69.65, 18.96, dt.date(2027, 5, 14), "01:56"),
    ],
)
def test_a_sunrise_whose_utc_date_is_the_day_before_still_runs_that_local_day(
    tz, latitude, longitude, day, local
):
    trigger = Trigger(kind="sunrise", tz=tz, latitude=latitude, longitude=longitude)
    zone = ZoneInfo(tz)
    runs = timing.next_runs(trigger, dt.datetime.combine(day, dt.time(0, 0), zone), 2)
    assert f"{runs[0].astimezone(zone):%Y-%m-%d %H:%M}" == f"{day} {local}"
    assert runs[1].astimezone(zone).date() == day + dt.timedelta(days=1)
    assert trigger.notes == []


def test_every_day_of_a_year_with_a_sunrise_has_one_run():
    # Kolkata never has polar day or night: 365 sunrises, one per local date.
    trigger = Trigger(kind="sunrise", tz="Asia/Kolkata", latitude=22.57, longitude=88.36)
    runs = timing.next_runs(trigger, at(2027, 1, 1) - dt.timedelta(hours=6), 365)
    dates = [r.astimezone(ZoneInfo("Asia/Kolkata")).date() for r in runs]
    assert dates == [dt.date(2027, 1, 1) + dt.timedelta(days=n) for n in range(365)]


def test_a_trigger_survives_the_round_trip_through_the_lambda_input():
    for trigger in (
        Trigger(kind="weekly", tz="Pacific/Chatham", time=dt.time(2, 45), weekdays=(6, 0)),
        Trigger(kind="cron", tz="Australia/Lord_Howe", cron="*/15 1-3 * * *"),
        Trigger(kind="once", tz="Europe/Dublin", date=dt.date(2027, 3, 28), time=dt.time(1, 30)),
        Trigger(kind="sunset", tz="Europe/Oslo", offset_minutes=-30, latitude=69.65,
                longitude=18.96),
    ):
        again = timing.trigger_from_dict(timing.trigger_to_dict(trigger))
        assert timing.next_runs(again, at(2027, 1, 1), 5) == timing.next_runs(
            trigger, at(2027, 1, 1), 5)


@pytest.mark.parametrize("bad", [None, {}, {"kind": "weekly"}, {"kind": "often", "tz": "UTC"},
                                 {"kind": "weekly", "tz": "Mars/Olympus"},
                                 {"kind": "once", "tz": "UTC", "date": "tomorrow"}])
def test_a_malformed_trigger_definition_is_refused(bad):
    with pytest.raises(timing.TriggerError):
        timing.trigger_from_dict(bad)


def test_a_sun_trigger_without_a_location_is_rejected():
    with pytest.raises(TriggerError) as caught:
        timing.validate(Trigger(kind="sunset", tz="Europe/Berlin"), at(2026, 1, 1))
    assert "location" in caught.value.reason


def test_a_one_off_time_in_the_past_is_rejected():
    trigger = Trigger(kind="once", tz="Europe/Berlin", date=dt.date(2026, 1, 1), time=dt.time(8))
    with pytest.raises(TriggerError) as caught:
        timing.validate(trigger, at(2026, 1, 1, 7, 0))  # 08:00 CET = 07:00 UTC: not after now
    assert caught.value.field == "date"
    assert "in the past" in caught.value.reason


# --- plain descriptions ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("trigger", "text"),
    [
        (weekly("Europe/Berlin", 7, 0, days=(0, 1, 2, 3, 4)), "Weekdays at 07:00, Europe/Berlin"),
        (weekly("UTC", 9, 30, days=(5, 6)), "Weekends at 09:30, UTC"),
        (weekly("UTC", 21, 5), "Every day at 21:05, UTC"),
        (weekly("UTC", 6, 0, days=(0, 2)), "Mon, Wed at 06:00, UTC"),
        (
            Trigger(kind="sunset", tz="Europe/Berlin", offset_minutes=-30),
            "30 min before sunset, Europe/Berlin",
        ),
        (Trigger(kind="sunrise", tz="UTC", offset_minutes=75), "1 h 15 min after sunrise, UTC"),
        (
            Trigger(kind="once", tz="UTC", date=dt.date(2028, 2, 29), time=dt.time(8)),
            "Once on Tue 29 Feb 2028 at 08:00, UTC",
        ),
        (Trigger(kind="cron", tz="UTC", cron="*/5 * * * *"), "Cron “*/5 * * * *”, UTC"),
    ],
)
def test_it_describes_triggers_plainly(trigger, text):
    assert timing.describe(trigger) == text
