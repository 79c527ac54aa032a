"""The schedule Lambda checks a desired state by the contract's table of cases
(smartlight/contract_cases.json), as a schedule's caller: fades up to 15 minutes, an effect's
name form only."""

from __future__ import annotations

import datetime as dt

import pytest

from smartlight.tests.contract_table import value_params

NOW = dt.datetime(2026, 6, 1, 7, 0, tzinfo=dt.UTC)
THING = "sl-00000000c0de"


@pytest.mark.parametrize(("case", "valid"), value_params("schedule"))
def test_the_lambda_accepts_exactly_the_tables_schedule_values(schedule_handler, case, valid):
    event = {"schedule": "6f1c2a8e-4a8b-4c55-9a1e-0d6c1a2b3c4d", "things": [THING],
             "desired": {case["key"]: case["value"]}}
    try:
        _, _, desired, _, _ = schedule_handler.validate(event, NOW)
    except schedule_handler.InvalidInput as exc:
        assert not valid, f"refused a valid value: {exc}"
        assert str(exc).startswith("desired")
    else:
        assert valid, f"accepted {case['value']!r}"
        assert desired == {case["key"]: case["clean"]}


@pytest.mark.parametrize(("case", "valid"), value_params("schedule"))
def test_a_scenes_per_light_states_follow_the_same_table(schedule_handler, case, valid):
    event = {"schedule": "6f1c2a8e-4a8b-4c55-9a1e-0d6c1a2b3c4d", "things": [THING],
             "desired": {}, "states": {THING: {case["key"]: case["value"]}}}
    try:
        _, _, _, states, _ = schedule_handler.validate(event, NOW)
    except schedule_handler.InvalidInput as exc:
        assert not valid, f"refused a valid value: {exc}"
        assert str(exc).startswith(f"states.{THING}")
    else:
        assert valid, f"accepted {case['value']!r}"
        assert states == {THING: {case["key"]: case["clean"]}}
