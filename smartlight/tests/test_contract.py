"""The light-state contract (smartlight/contract.py): the table of cases, the schema the API
advertises, and what a device's report becomes before it is stored."""

from __future__ import annotations

import json

import pytest

from schedules import actions as schedule_actions
from smartlight import contract

from .contract_table import DOCUMENTS, LIGHT_EFFECTS, value_params


def _outcome(check):
    try:
        return True, check()
    except (contract.InvalidState, schedule_actions.ScheduleInvalid, ValueError) as exc:
        return False, exc


@pytest.mark.parametrize(("case", "valid"), value_params("interactive"))
def test_the_portal_and_api_accept_exactly_the_tables_interactive_values(case, valid):
    ok, result = _outcome(lambda: contract.validate_desired(
        {case["key"]: case["value"]}, effects=LIGHT_EFFECTS))
    assert ok is valid, result
    if valid:
        assert result == {case["key"]: case["clean"]}
        assert type(result[case["key"]]) is type(case["clean"])
    else:
        assert [e.field for e in result.errors] == [case["key"] or "desired"]


@pytest.mark.parametrize(("case", "valid"), value_params("schedule"))
def test_schedules_accept_exactly_the_tables_schedule_values(case, valid):
    ok, result = _outcome(lambda: schedule_actions.validate_desired({case["key"]: case["value"]}))
    assert ok is valid, result
    if valid:
        assert result == {case["key"]: case["clean"]}
    else:
        assert isinstance(result, schedule_actions.ScheduleInvalid)
        assert result.errors[0][0].startswith("desired")


@pytest.mark.parametrize(("case", "valid"), value_params("device"))
def test_the_device_rules_accept_exactly_the_tables_device_values(case, valid):
    ok, result = _outcome(lambda: contract.clean_value(
        case["key"], case["value"], max_transition_ms=contract.DEVICE_MAX_TRANSITION_MS,
        effects=LIGHT_EFFECTS))
    assert ok is valid, result
    if valid:
        assert result == case["clean"]


@pytest.mark.parametrize("case", DOCUMENTS, ids=lambda c: json.dumps(c["desired"])[:40])
def test_whole_documents_follow_the_table(case):
    limit = {"interactive": contract.INTERACTIVE_MAX_TRANSITION_MS,
             "schedule": contract.SCHEDULE_MAX_TRANSITION_MS}[case["caller"]]
    effects = LIGHT_EFFECTS if case["caller"] == "interactive" else None
    ok, result = _outcome(lambda: contract.validate_desired(
        case["desired"], max_transition_ms=limit, effects=effects))
    if "clean" in case:
        assert ok, result
        assert result == case["clean"]
    else:
        assert not ok
        assert [e.field for e in result.errors] == case["fields"]


def test_solid_is_always_an_effect_even_before_the_light_reported():
    assert contract.validate_desired({"effect": "solid"}, effects=()) == {"effect": "solid"}
    with pytest.raises(contract.InvalidState, match="not an effect of this light"):
        contract.validate_desired({"effect": "rainbow"}, effects=contract.effects_of({}))


def test_a_lights_effects_are_its_well_formed_names_with_solid():
    reported = {"effects": ["rainbow", "Bad Name", 7, "rainbow", "x\u0000", "chase"]}
    assert contract.effects_of(reported) == ("solid", "rainbow", "chase")
    assert contract.effects_of({"effects": ["solid", "candle"]}) == ("solid", "candle")
    assert contract.effects_of({"effects": "solid"}) == ("solid",)


def test_the_error_names_the_field_and_the_reason():
    with pytest.raises(contract.InvalidState) as caught:
        contract.validate_desired({"color": "#ff8800\n", "brightness": 300})
    assert [str(e) for e in caught.value.errors] == [
        "color: must be \"#rrggbb\" hex, got '#ff8800\\n'",
        "brightness: must be from 0 to 255, got 300",
    ]
    assert caught.value.status == 422


def test_the_schema_admits_what_the_validator_admits():
    """The JSON Schema the API advertises, checked with a real JSON Schema validator against
    every value of the table: it accepts exactly what validate_desired accepts."""
    # jsonschema_rs matches patterns as JSON Schema says (ECMA 262: `$` is the end of the
    # text); Python's `re.search` would also let `$` match before a final newline.
    import jsonschema_rs

    schema = contract.desired_schema(contract.SCHEDULE_MAX_TRANSITION_MS)
    validator = jsonschema_rs.validator_for(schema)
    for param in value_params("schedule"):
        case, valid = param.values
        document = {case["key"]: case["value"]}
        assert validator.is_valid(document) is valid, document


def test_a_report_keeps_only_what_fits_the_contract():
    reported = {
        "on": True, "brightness": 300, "color": "#FF8800", "effect": "Disco", "speed": 128.0,
        "transition_ms": 900000, "connected": "yes", "fw": "1.2\u0000.3" + "x" * 50,
        "led_count": 30, "heap_free": 2**80, "rssi": True,
        "effects": ["solid", "rainbow", "rainbow", "bad name", 3] + [f"e{i}" for i in range(50)],
    }
    clean = contract.sanitize_state(reported)
    assert clean["on"] is True and clean["color"] == "#ff8800" and clean["speed"] == 128
    assert clean["transition_ms"] == 900000
    assert "brightness" not in clean and "effect" not in clean and "connected" not in clean
    assert clean["fw"] == "1.2.3" + "x" * 27
    assert clean["led_count"] == 30 and "heap_free" not in clean and "rssi" not in clean
    assert clean["effects"][:3] == ["solid", "rainbow", "e0"]
    assert len(clean["effects"]) == contract.MAX_EFFECTS


def test_other_reported_keys_are_kept_as_bounded_json_without_control_characters():
    deep = {"a": {"b": {"c": {"d": {"e": 1}}}}}
    clean = contract.sanitize_state({
        "extra\u0000": "line\nbreak\u0085", "nested": deep, "many": list(range(1000)),
        "wide": {f"k{i}": i for i in range(1000)}, "nan": float("nan"), "\u0000": 1,
        "inf": float("inf"),
    })
    assert clean["extra"] == "linebreak"
    assert clean["nested"] == {"a": {"b": {"c": None}}}
    assert len(clean["many"]) == contract.MAX_LIST and len(clean["wide"]) == contract.MAX_KEYS
    assert clean["nan"] is None and clean["inf"] is None
    assert "" not in clean
    json.dumps(clean, allow_nan=False)  # storable as strict JSON


def test_a_state_that_is_not_an_object_becomes_empty():
    assert contract.sanitize_state(["on"]) == {} and contract.sanitize_state(None) == {}
