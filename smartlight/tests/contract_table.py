"""The contract's table of cases (smartlight/contract_cases.json), for the tests that run it
against each copy of the rules: the platform's, the schedule Lambda's and the firmware's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TABLE = json.loads((Path(__file__).resolve().parent.parent / "contract_cases.json").read_text())
LIGHT_EFFECTS: list[str] = TABLE["light_effects"]
VALUES: list[dict] = TABLE["values"]
DOCUMENTS: list[dict] = TABLE["documents"]


def case_id(case: dict) -> str:
    return f"{case['key'] or '(empty)'}={json.dumps(case['value'])[:30]}"


def value_params(caller: str) -> list:
    """pytest params (case, expected valid) for one caller."""
    return [pytest.param(c, caller in c["valid_for"], id=case_id(c)) for c in VALUES]
