"""What only the real MicroPython VM can show: heap allocation per frame and the fuzzed
message handler on the board's own json/str implementation."""

from __future__ import annotations

import pytest

from firmware.host import harness

from .conftest import CHECKS, run_checks, value

pytestmark = pytest.mark.micropython

EFFECTS = ["solid", "breathe", "rainbow", "chase", "twinkle", "candle", "colorloop"]


@pytest.fixture(scope="module")
def alloc():
    return run_checks("micropython", "alloc")


@pytest.mark.parametrize("effect", EFFECTS)
def test_a_frame_allocates_nothing(alloc, effect):
    # 100 frames of 150 LEDs with gc disabled: plain, mid-fade, power-limited, identifying.
    assert value(alloc, f"alloc {effect}") == {
        "plain": 0,
        "fading": 0,
        "limited": 0,
        "identify": 0,
    }


def test_the_allocation_meter_sees_allocations(alloc):
    assert value(alloc, "alloc meter control") > 100 * 8


@pytest.mark.parametrize("mpy", [False, True], ids=["py", "mpy"])
def test_importing_the_firmware_fits_an_esp32_heap(mpy):
    # An ESP32 without PSRAM has ~100 KB free and TLS needs 20-40 KB of it.
    heap = harness.run_micropython((CHECKS / "heap.py").read_text(), mpy=mpy)
    assert 5 * 1024 < value(heap, "heap after import") < 40 * 1024
    assert value(heap, "asyncio import") < 8 * 1024  # the MQTT client's runtime, frozen in


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_ten_thousand_bad_messages_never_escape_the_handler(runtime):
    v = value(run_checks(runtime, "fuzz"), "fuzz: no exception escapes the message handler")
    assert v["count"] == 10000
    assert v["escaped"] == 0, v["first"]
    assert v["handled"] + v["dropped"] == 10000
    assert v["handled"] > 500 and v["dropped"] > 500  # both paths were exercised
    assert v["state_valid"] is True
    assert v["renders"] is True
    assert v["topics"] == 7
    assert v["reports"] >= v["handled"] // 2  # accepted documents were answered with reports


def test_the_on_device_check_runs_on_micropython():
    # The script for a real board, here on the fake strip: every effect, 0 bytes per frame.
    script = (harness.FIRMWARE / "onboard" / "frame_check.py").read_text()
    out = harness.run_micropython_raw(script)
    assert out["ok"], out["error"]
    lines = out["stdout"]
    assert lines[0] == "leds 30 pin 19 max_ma 850"
    per_effect = [line.split() for line in lines[1:-1]]
    assert [parts[0] for parts in per_effect] == EFFECTS
    assert all(parts[-1] == "0" for parts in per_effect)
    assert lines[-1].startswith("heap free ")
