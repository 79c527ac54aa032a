"""A light's look in plain words."""

from __future__ import annotations

import pytest

from devices import words


@pytest.mark.parametrize(("color", "name"), [
    ("#ff0000", "Red"), ("#00ff00", "Green"), ("#0000ff", "Blue"), ("#ff8800", "Orange"),
    ("#ffffff", "White"), ("#fff4e0", "White"), ("#000000", "Black"), ("#ff00ff", "Magenta"),
])
def test_a_colour_is_named_by_its_hue(color, name):
    assert words.color_name(color) == name


def test_every_swatch_is_named_as_itself():
    assert [words.color_name(c) for c, _ in words.COLOR_SWATCHES] == [
        n for _, n in words.COLOR_SWATCHES]
    assert [words.white_name(k) for k, _ in words.WHITE_SWATCHES] == [
        n for _, n in words.WHITE_SWATCHES]


def test_the_shown_text_says_white_and_effect_in_words():
    assert words.shown_text({"on": True, "brightness": 255, "color": "#ff0000",
                             "color_temp_k": 2700, "effect": "solid"}) == (
        "shows on · 100 % · Warm white")
    assert words.shown_text({"on": True, "brightness": 128, "color": "#0000ff",
                             "effect": "rainbow"}) == "shows on · 50 % · Blue · Rainbow"
    assert words.shown_text({"on": False, "color": "#0000ff"}) == "shows off"
