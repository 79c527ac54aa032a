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
    assert 30 < v["g128"] < 60  # gamma 2.6 darkens the mid value
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
    assert v["cfg"] == [30, 2000, True, 19, 40, 8883, None, "pw"]
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
    assert v["connects"] == 0  # no WiFi: the light is right anyway


def test_connect_follows_the_device_contract(logic):
    v = value(logic, "connect follows the contract")
    assert v["client_id"] == THING
    assert v["server"] == ["broker.local", 1883, 30]
    assert v["will"] == [
        f"smartlight/{THING}/lwt",
        '{"state":{"reported":{"connected":false}}}',
        1,
        False,
    ]
    assert v["subscriptions"] == [
        [SHADOW + "update/delta", 1],
        [SHADOW + "get/accepted", 1],
        [SHADOW + "get/rejected", 1],
        [f"smartlight/{THING}/cmd", 1],
    ]
    assert v["first_publish"] == [SHADOW + "get", ""]
    assert v["online"] is True


def test_it_reports_the_full_state_after_get(logic):
    v = value(logic, "get accepted after connect reports full state")
    rep = v["reported"]
    assert rep["connected"] is True and rep["color"] == "#123456" and rep["speed"] == 7
    telemetry = ("fw", "led_count", "max_ma", "power_ma", "effects", "rssi", "heap_free")
    for key in (*telemetry, "uptime_s"):
        assert key in rep
    assert rep["led_count"] == 10 and rep["rssi"] == -55


def test_broker_loss_keeps_the_light_and_resyncs(logic):
    v = value(logic, "broker loss keeps the light, backs off, and resyncs from get")
    assert v["shown"] == [255, 0, 0] and v["still"] == [255, 0, 0]
    assert v["offline_frames"] >= 5000  # 2 minutes at 50 fps: rendering never stopped
    assert all(g <= 30000 + 40 for g in v["gaps"])  # capped at 30 s (+ loop granularity)
    assert v["gaps"][-1] > v["gaps"][0]  # and growing
    assert v["online"] is True
    assert v["gets"] == 2  # one per connection
    assert v["color"] == "#0000ff"  # the change made while offline
    assert v["last_report"]["connected"] is True


def test_a_failed_publish_drops_the_link_instead_of_crashing(logic):
    v = value(logic, "a publish failure inside the handler drops the link instead of raising")
    assert v == {"online": False, "brightness": 3}


def test_a_bad_thing_name_never_connects_but_the_light_works(logic):
    v = value(logic, "a bad thing name keeps the light local")
    assert v["connects"] == 0
    assert v["resets"] == 0  # rebooting cannot fix a config: no offline reboots either
    assert v["frames"] is True
    assert v["logged"] == ["config: thing must be 'sl-' + 12 lowercase hex, got 'SL-NOT-A-THING'"]


def test_fifteen_minutes_offline_reboots(logic):
    assert value(logic, "fifteen minutes without the cloud reboots") == 900000


def test_reboot_command_saves_then_resets(logic):
    v = value(logic, "reboot command saves the state and resets")
    assert v["resets"] == 1
    assert v["saved"]["color"] == "#abcdef"


def test_identify_command_blinks_then_stops(logic):
    assert value(logic, "identify command blinks the strip") == [True, False]


def test_a_delta_is_shown_on_the_pass_that_receives_it(logic):
    v = value(logic, "a delta is shown on the pass that receives it")
    assert v["frame_ms"] > 1
    assert v["pixel"] == [0, 0, 255]


def test_the_main_loop_renders_at_least_40_fps_without_blocking(logic):
    v = value(logic, "the main loop renders 40+ fps with 150 LEDs and never sleeps inside a pass")
    assert v["frame_ms"] <= 25
    assert v["simulated_ms"] == 1000
    assert v["frames"] >= 40  # rendering cost does not stretch the frame schedule
    assert v["online"] is True  # the network was serviced in the same loop
    assert v["sleeps_in_step"] == 0  # waiting happens between passes, never inside one
    assert 0 < v["longest_sleep"] <= 10
    assert v["worst_pass_real_ms"] < 250  # no blocking call hides in a pass either


def test_the_watchdog_is_fed(logic):
    v = value(logic, "watchdog is fed on every pass")
    assert v["timeout"] == 30000
    assert v["feeds"] == 50


def test_tls_waits_for_time_and_uses_the_certificates(logic):
    v = value(logic, "tls syncs time first, loads the certificates and sends the endpoint as SNI")
    assert v["ntp_calls"] == 3  # two timeouts, then success; not again on reconnect
    assert v["online"] is True
    assert v["port"] == 8883
    assert v["protocol"] is True and v["verify_required"] is True
    assert v["loaded"] == [True, True, True]  # CA, certificate and key read from /certs
    # AWS IoT picks the account's endpoint by SNI: every TLS connection sends the endpoint,
    # the reconnect after the broker loss included.
    assert v["sni"] == ["a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com"] * 2
    assert v["contexts"] >= 2  # one a connect attempt, whose TCP connect may fail first


def test_plain_mqtt_skips_time_sync(logic):
    assert value(logic, "plain mqtt skips time sync") == {
        "ntp_calls": 0,
        "online": True,
        "ssl": None,
    }


def test_power_is_reported_once_a_change_settles(logic):
    v = value(logic, "telemetry reports power after a change settles")
    assert v["power_reports"] == [30 * 60 + 30, 30]
    assert v["now"] == 30


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
    assert v["online"] is True


def test_wifi_portal_rejects_a_missing_network(logic):
    v = value(logic, "wifi form rejects a missing network name")
    assert v == {"status": "HTTP/1.0 400 Bad Request", "stored": False}
