"""Simulator parts without a broker: frame recording, folders, broker URLs."""

from __future__ import annotations

import json
import time

import pytest

from firmware.sim import shims
from firmware.sim.fleet import Broker, Fleet, ensure_folder, read_config


def test_frames_convert_the_grb_buffer_to_rgb_pixels(tmp_path):
    frames = shims.Frames(tmp_path, (1, 0, 2), interval_ms=0)
    frames.record(bytearray([10, 20, 30, 0, 255, 7]))  # G R B, G R B
    assert frames.pixels() == [[20, 10, 30], [255, 0, 7]]
    doc = json.loads((tmp_path / "frame.json").read_text())
    assert doc["pixels"] == [[20, 10, 30], [255, 0, 7]]
    assert doc["seq"] == 1
    assert not (tmp_path / "frame.json.tmp").exists()  # written aside, then renamed


def test_frame_json_is_throttled_and_skips_unchanged_frames(tmp_path):
    frames = shims.Frames(tmp_path, (1, 0, 2), interval_ms=200)
    frames.record(bytearray([1, 2, 3]))
    first = (tmp_path / "frame.json").stat().st_mtime_ns
    for i in range(20):  # a burst inside the interval: memory follows, the file waits
        frames.record(bytearray([i, 0, 0]))
    assert frames.pixels() == [[0, 19, 0]]
    assert json.loads((tmp_path / "frame.json").read_text())["pixels"] == [[2, 1, 3]]
    time.sleep(0.25)
    frames.record(bytearray([9, 9, 9]))
    assert json.loads((tmp_path / "frame.json").read_text())["pixels"] == [[9, 9, 9]]
    assert (tmp_path / "frame.json").stat().st_mtime_ns >= first


def test_machine_reset_raises_for_the_light_loop():
    machine = shims.Machine()
    with pytest.raises(shims.Reset):
        machine.reset()
    assert machine.resets == 1


def test_broker_urls_carry_tls_and_credentials():
    plain = Broker("mqtt://127.0.0.1:18830")
    assert plain.config() == {
        "endpoint": "127.0.0.1", "port": 18830, "tls": False, "user": None, "password": None,
    }  # fmt: skip
    secured = Broker("mqtts://svc:p%40ss@example.com")
    assert (secured.port, secured.tls, secured.username, secured.password) == (
        8883, True, "svc", "p@ss",
    )  # fmt: skip
    assert Broker("mqtt://h:1", username="u", password="p").config()["user"] == "u"
    with pytest.raises(ValueError):
        Broker("http://127.0.0.1:80")


def test_a_light_folder_is_created_once_and_reused(tmp_path):
    broker = Broker("mqtt://127.0.0.1:1000")
    folder = ensure_folder(tmp_path, "sl-00000000aa01", 30, 1500, broker)
    assert read_config(folder) == {
        "thing": "sl-00000000aa01", "led_count": 30, "pin": 19, "max_ma": 1500,
        "endpoint": "127.0.0.1", "port": 1000, "tls": False, "user": None, "password": None,
    }  # fmt: skip
    (folder / "state.json").write_text('{"color": "#010203"}')
    again = ensure_folder(tmp_path, "sl-00000000aa01", 150, 9999, Broker("mqtt://10.0.0.1:2"))
    config = read_config(again)
    assert (config["led_count"], config["max_ma"]) == (30, 1500)  # the light keeps its strip
    assert (config["endpoint"], config["port"]) == ("10.0.0.1", 2)  # the broker follows the CLI
    assert (folder / "state.json").read_text() == '{"color": "#010203"}'


def test_count_reuses_existing_lights_before_making_new_ones(tmp_path):
    broker = "mqtt://127.0.0.1:1"
    first = Fleet.in_state_dir(tmp_path, count=2, broker=broker, led_counts=[30, 60])
    names = set(first.lights)
    assert sorted(light.led_count for light in first.lights.values()) == [30, 60]
    second = Fleet.in_state_dir(tmp_path, count=3, broker=broker)
    assert names < set(second.lights)
    assert len(second.lights) == 3
    assert all(n.startswith("sl-") and len(n) == 15 for n in second.lights)
