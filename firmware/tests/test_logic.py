"""Rendering, effects, power limiter, shadow handling, persistence, backoff and the device
loop, each asserted under real MicroPython and under CPython (checks/logic.py)."""

from __future__ import annotations

import pytest

from .conftest import value

pytestmark = pytest.mark.micropython

EFFECTS = ["solid", "breathe", "rainbow", "chase", "twinkle", "candle", "colorloop"]
THING = "sl-0123456789ab"
SHADOW = f"$aws/things/{THING}/shadow/"


def test_it_shows_the_colour_through_gamma(logic):
    v = value(logic, "solid shows the colour through gamma")
    assert v["pixel"] == [255, v["g128"], 0]
    assert v["g128"] == round((128 / 255) ** 2.8 * 255)  # gamma 2.8, as WLED and ESPHome
    assert v["raw"] == [v["g128"], 255, 0]  # GRB on the wire


def test_it_applies_brightness_before_gamma(logic):
    v = value(logic, "brightness scales before gamma")
    assert v["pixel"] == [v["expected"]] * 3


def test_it_goes_dark_when_off(logic):
    v = value(logic, "off is dark")
    assert v["max"] == 0
    assert v["power_ma"] == 10  # only the quiescent 1 mA of each of the 10 LEDs


def test_it_fades_over_the_transition(logic):
    v = value(logic, "fade passes halfway at half the transition and lands on target")
    assert 120 <= v["half"] <= 135
    assert v["end"] == 255
    assert v["fading_mid"] is True and v["fading_end"] is False


def test_every_effect_but_solid_animates(logic):
    v = value(logic, "every effect animates except solid")
    assert set(v) == set(EFFECTS)
    assert v["solid"] == 0
    assert all(v[name] >= 8 for name in EFFECTS if name != "solid")


def test_speed_makes_effects_faster(logic):
    v = value(logic, "speed makes effects faster")
    assert v["0"] < v["128"] < v["255"]


def test_chase_lights_a_short_comet(logic):
    assert value(logic, "chase lights a short comet") == 8


def test_rainbow_covers_the_wheel(logic):
    red, green, blue = value(logic, "rainbow covers the colour wheel")
    assert red > 5 and green > 5 and blue > 5


def test_the_strip_buffer_is_grb(logic):
    assert value(logic, "WS2813 buffer is in GRB order") == [0, 255, 0, 0, 255, 0]


def test_power_follows_the_per_channel_model(logic):
    v = value(logic, "power estimate follows the per-channel model")
    assert v == {"red": 10 * 20 + 10, "white": 10 * 60 + 10}


def test_the_limiter_keeps_every_effect_under_budget(logic):
    v = value(logic, "power limiter keeps every effect under max_ma")
    assert v["unlimited solid"] == 150 * 60 + 150
    for name in EFFECTS:
        assert v[name] <= 1000, name
    assert v["solid"] >= 900  # it dims to the budget, not far below it


def test_identify_blinks_three_times_and_restores(logic):
    seen = value(logic, "identify blinks three times and restores")
    white, dark, blue = [255, 255, 255], [0, 0, 0], [0, 0, 255]
    assert seen == [white, dark, white, dark, white, dark, blue]


def test_it_ignores_unknown_keys_and_bad_values(logic):
    v = value(logic, "light ignores unknown keys and bad values")
    assert v == {"changed": 1, "keys": ["speed"], "speed": 10}


def test_transitions_run_up_to_fifteen_minutes(logic):
    v = value(logic, "transitions run up to fifteen minutes")
    assert v == {"longest": 1, "shown": 900000, "too_long": 0, "after": 900000}


def test_booleans_are_not_numbers_and_colours_are_lowercased(logic):
    state = value(logic, "booleans are not numbers and colours are normalised")
    assert state["brightness"] == 128 and state["speed"] == 128
    assert state["color"] == "#abcdef" and state["on"] is False


def test_a_saved_state_is_restored_without_unknown_keys(logic):
    state = value(logic, "light restores a saved state")
    assert state["color"] == "#010203" and state["effect"] == "candle"
    assert "bogus" not in state


def test_a_delta_is_applied_and_reported(logic):
    v = value(logic, "delta is applied and the shown state reported")
    assert v["ok"] is True
    assert v["topic"] == SHADOW + "update"
    [rep] = v["reported"]
    assert rep["color"] == "#00ff00"
    assert rep["brightness"] == 128  # 999 was refused: report what is shown
    assert "bogus" not in rep
    assert set(rep) == {"on", "brightness", "color", "effect", "speed", "transition_ms"}


def test_get_accepted_applies_desired_and_reports_connected(logic):
    v = value(logic, "get accepted applies desired and reports everything connected")
    assert v["synced"] is True
    [rep] = v["reported"]
    assert rep["connected"] is True
    assert rep["on"] is False and rep["effect"] == "twinkle"
    assert "solid" in rep["effects"]


def test_get_rejected_still_creates_the_shadow(logic):
    [rep] = value(logic, "get rejected still reports the full state")
    assert rep["connected"] is True and rep["color"] == "#ffa050"


def test_identify_and_reboot_commands(logic):
    ident_ok, identifying, reboot_ok, requested, unknown_ok, reports = value(
        logic, "commands identify and reboot"
    )
    assert ident_ok and identifying and reboot_ok and requested
    assert unknown_ok is False
    assert reports == 0  # commands are not persisted or reported


def test_bad_messages_change_nothing(logic):
    v = value(logic, "bad messages are ignored")
    assert v["results"] == [False] * 8
    assert v["same"] is True
    assert v["sent"] == 0
    assert v["dropped"] == 8


def test_thing_names_follow_the_contract(logic):
    assert value(logic, "thing names follow the contract") == [True, False, False, False]


def test_state_is_saved_within_five_seconds_of_the_last_change(logic):
    v = value(logic, "state is saved within 5 s once changes stop")
    assert v["early"] is False
    assert v["wrote_at"] <= 5000
    assert v["file"] == {"on": True}


def test_constant_change_writes_at_most_once_a_minute(logic):
    v = value(logic, "constant change writes at most once a minute")
    assert 1 <= v["writes"] <= 5  # five minutes of changes
    assert v["min_gap"] >= 60000
    assert v["settled_after"] <= 5000
    assert v["saved"] is True


def test_an_unchanged_state_is_not_rewritten(logic):
    assert value(logic, "unchanged state is not rewritten") == [True, False, 1]


def test_config_json_overrides_the_defaults(logic):
    v = value(logic, "config file overrides the defaults")
    assert v == {"thing": THING, "led_count": 150, "pin": 19}


def test_bad_config_values_keep_their_defaults(logic):
    v = value(logic, "bad config values keep their defaults")
    assert v["cfg"] == [30, 850, True, 19, 40, 8883, None, "pw"]
    assert v["ignored"] == 6


def test_backoff_is_exponential_jittered_and_capped(logic):
    v = value(logic, "backoff grows exponentially with jitter and caps at 30 s")
    assert v["high"] == [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
    assert v["low"] == [500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]
    assert v["after_reset"] == 1000


def test_boot_restores_the_light_before_the_network(logic):
    v = value(logic, "boot restores the saved look before any network")
    assert v["state"]["color"] == "#00ff00"
    assert v["pixel"] == [0, 255, 0]


def test_fifteen_minutes_offline_reboots(logic):
    assert value(logic, "fifteen minutes without the cloud reboots") == 900000


def test_the_watchdog_is_fed(logic):
    v = value(logic, "watchdog is fed on every pass")
    assert v["timeout"] == 30000
    assert v["feeds"] == 50


def test_wifi_joins_the_strongest_known_network(logic):
    v = value(logic, "wifi joins the strongest known network")
    assert v == {"connects": ["strong"], "connected": True, "ap": False}


def test_wifi_portal_stores_the_chosen_network(logic):
    v = value(logic, "wifi setup portal lists networks and stores the choice")
    assert v["ap"] == "SmartLight-89ab"
    assert v["lists"] is True  # names are HTML-escaped
    assert v["status"] == ["HTTP/1.0 200 OK", "HTTP/1.0 200 OK"]
    assert v["stored"] == "home;p@ss word\n"
    assert v["joined"] is True and v["portal_closed"] is True


def test_wifi_opens_the_portal_and_keeps_retrying_known_networks(logic):
    v = value(logic, "wifi opens the portal when no known network answers and keeps retrying them")
    assert v["opened_at"] <= 12000 + 40  # once the first join attempt has had its time
    # While the portal is open the known network is tried again every 15 s, and each try
    # really reaches the radio (ESP-IDF refuses a connect while the last one still runs).
    assert len(v["tries"]) == 4
    assert [b - a for a, b in zip(v["tries"], v["tries"][1:])] == [15000] * 3
    assert v["refused"] == 0
    assert v["page"] == ["HTTP/1.0 200 OK"]
    assert v["joined_after"] <= 15000 + 20  # at the next retry once the network answers
    assert v["portal_closed"] is True and v["server_closed"] is True


def test_wifi_portal_rejects_a_missing_network(logic):
    v = value(logic, "wifi form rejects a missing network name")
    assert v == {"status": "HTTP/1.0 400 Bad Request", "stored": False}


def test_no_reboot_while_the_setup_access_point_is_open(logic):
    v = value(logic, "no reboot while the setup access point is open")
    assert v["portal_hour"] is True and v["resets_during_setup"] == 0
    # once setup is over, the offline reboot counts from when the portal closed
    assert 900 <= v["rebooted_after_setup_s"] <= 920


def test_the_setup_access_point_uses_wpa2_and_shows_serial_and_claim_code(logic):
    v = value(logic, "the setup access point uses WPA2 and the page shows serial and claim code")
    assert v == {
        "essid": "SmartLight-89ab",
        "password": "lamp-8841-ok",
        "wpa2": True,
        "serial_shown": True,
        "claim_code_shown": True,
    }


def test_a_missing_or_short_ap_password_leaves_an_open_access_point_and_a_log_line(logic):
    v = value(logic, "without an ap_password the access point stays open and says so")
    assert v["password"] is None
    assert v["logged"] == ["wifi: no ap_password (8+ characters) in config.json: open access point"]


def test_uptime_is_right_after_forty_days(logic):
    # ticks_ms wraps every 2**30 ms (12.4 days): a plain ticks_diff would have gone negative
    v = value(logic, "uptime stays right across the ticks wrap")
    assert v == {"uptime_s": 40 * 86400, "telemetry": 40 * 86400}


def test_the_power_budget_defaults_to_850_ma_minus_the_boards_draw(logic):
    v = value(logic, "the power budget keeps the board's own draw aside")
    assert v == {
        "strip": 750,  # 850 mA supply budget, 100 mA for the ESP32 itself (WLED's reserve)
        "reported": 850,
        "custom": 750,
        "unlimited": 0,
        "default_max_ma": 850,
    }


def test_the_runtime_is_checked_at_boot_with_a_clear_log_line(logic):
    v = value(logic, "the runtime is checked at boot with a clear log line")
    assert v["results"] == [False, True, True]
    assert v["lines"] == [
        "runtime: micropython 1.21.0 is too old: this firmware needs MicroPython 1.22 or newer",
        "runtime: micropython 1.24.1 supported",
        "runtime: cpython 3.11.7 supported",
    ]
    assert v["boot"].startswith("runtime: ") and v["boot"].endswith(" supported")
