"""The firmware's copy of the light-state rules (light.clean) against the contract's table of
cases (smartlight/contract_cases.json), under real MicroPython and under CPython."""

from __future__ import annotations

import json

import pytest

from firmware.host import harness
from smartlight.tests.contract_table import LIGHT_EFFECTS, TABLE, VALUES, case_id

from .conftest import value

pytestmark = pytest.mark.micropython

SCRIPT = """
import json

import effects
import hostcheck
import light
from hostcheck import check

TABLE = json.loads(TABLE_JSON)


@check("effects")
def _():
    return list(effects.NAMES)


@check("clean")
def _():
    return [light.clean(case["key"], case["value"]) for case in TABLE["values"]]


hostcheck.done()
"""


@pytest.fixture(scope="module", params=["micropython", "cpython"])
def results(request) -> dict:
    script = f"TABLE_JSON = {json.dumps(json.dumps(TABLE))}\n" + SCRIPT
    return harness.run(request.param, script)


def test_the_table_names_the_firmwares_own_effects(results):
    assert value(results, "effects") == LIGHT_EFFECTS


def test_the_firmware_takes_exactly_the_tables_device_values(results):
    cleaned = value(results, "clean")
    assert len(cleaned) == len(VALUES)
    wrong = []
    for case, got in zip(VALUES, cleaned, strict=True):
        valid = "device" in case["valid_for"]
        # light.clean answers None for a value it does not take (the key is then ignored).
        if valid and (got != case["clean"] or type(got) is not type(case["clean"])):
            wrong.append(f"{case_id(case)}: took it as {got!r}, expected {case['clean']!r}")
        elif not valid and got is not None:
            wrong.append(f"{case_id(case)}: took {got!r}, the contract refuses it")
    assert not wrong, "\n".join(wrong)
