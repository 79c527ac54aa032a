from __future__ import annotations

from pathlib import Path

import pytest

from firmware.host import harness

CHECKS = Path(__file__).resolve().parent / "checks"


def run_checks(runtime: str, name: str, asynchronous: bool = False) -> dict:
    """Run checks/<name>.py once under `runtime`; results by check name. Asynchronous
    scripts end with a top-level `await hostcheck.run_async()`."""
    script = (CHECKS / f"{name}.py").read_text()
    if runtime == "micropython":
        return harness.run_micropython(script, asynchronous=asynchronous)
    return harness.run(runtime, script)


def value(results: dict, name: str):
    """The value a check returned; fails the test with the check's error otherwise."""
    assert name in results, f"check {name!r} did not run"
    outcome = results[name]
    assert outcome["ok"], f"{name}: {outcome.get('error')}"
    return outcome["value"]


@pytest.fixture(scope="module", params=["micropython", "cpython"])
def logic(request) -> dict:
    """The logic checks, run once per runtime (one Node start for the whole module)."""
    return run_checks(request.param, "logic")
