from __future__ import annotations

from devices.picture import OFF_COLOR, frame_pixels, read_frame, strip_gradient, strip_pixels


def test_a_light_that_is_off_shows_the_dark_strip():
    assert set(strip_pixels({"on": False, "color": "#ff0000"}, 60)) == {OFF_COLOR}


def test_a_solid_colour_at_full_brightness_is_that_colour():
    state = {"on": True, "brightness": 255, "color": "#ff8800", "effect": "solid"}
    assert strip_gradient(state, 30) == "linear-gradient(90deg, " + ", ".join(
        ["#ff8800"] * 24) + ")"


def test_dimmer_is_darker_but_still_visible():
    dim = strip_pixels({"on": True, "brightness": 0, "color": "#ffffff"}, 1)[0]
    assert dim == "#404040"


def test_rainbow_spreads_hues_along_the_strip():
    pixels = strip_pixels({"on": True, "brightness": 255, "color": "#ffffff",
                           "effect": "rainbow"}, 6)
    assert pixels[0] == "#ff0000" and len(set(pixels)) == 6


def test_a_frame_is_sampled_and_its_gamma_undone():
    frame = [[0, 0, 0]] + [[255, 0, 0]] * 99 + [[0, 0, 37]] * 100
    pixels = frame_pixels(frame)
    assert len(pixels) == 24
    assert pixels[0] == OFF_COLOR and pixels[1] == "#ff0000"
    # 37 is the firmware's gamma-2.8 level for a perceived 128 (about half brightness)
    assert pixels[-1] == "#000080"


def test_an_unreadable_frame_file_is_ignored(tmp_path):
    (tmp_path / "sl-000000000001").mkdir()
    (tmp_path / "sl-000000000001" / "frame.json").write_text("{half a file")
    assert read_frame("sl-000000000001", tmp_path) is None
    assert read_frame("sl-000000000002", tmp_path) is None
