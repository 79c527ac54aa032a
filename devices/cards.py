"""The HTML of one light's card on the dashboard.

Built with one str.format() call instead of a template include: a home can have hundreds of
lights, and the template engine's per-variable cost made a 500-light dashboard several times
slower (bench/dashboard.py). Every value is HTML-escaped unless it is already safe markup; the
markup is what static/js/devices.js and the tests look for (data-role / data-control).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

from devices import words

CARD = """<article class="light{pending_class}{offline_class}" id="light-{code}" \
data-code="{code}" aria-labelledby="light-name-{code}">
  <div class="strip" data-role="strip" data-strip="{strip}" role="img" \
aria-label="What {name} shows"></div>
  <header class="light-head">
    <h3 id="light-name-{code}">{name}</h3>
    <span class="status {status_class}" data-role="status">{status}</span>
    <span class="pending-badge" data-role="pending" {pending_hidden} \
title="Waiting for the light to show the change">{pending_text}</span>
  </header>
  <p class="light-meta muted">
    <span data-role="last-seen" data-ts="{last_seen_iso}" {seen_hidden}>{last_seen}</span>
    <span data-role="shown">{shown}</span>
  </p>
  <form method="post" action="{state_url}" class="controls" data-role="controls">
    <input type="hidden" name="csrfmiddlewaretoken" value="{csrf_token}">
    <fieldset {disabled}>
      <legend class="visually-hidden">Controls of {name}</legend>
      <label class="switch">
        <input type="checkbox" name="on" value="true" data-control="on" {checked} {disabled} \
aria-label="{name} on">
        <span>On</span>
      </label>
      <label class="control">
        <span>Brightness <output data-role="brightness-out">{brightness} %</output></span>
        <input type="range" name="brightness" min="0" max="100" step="1" value="{brightness}" \
data-control="brightness" aria-label="Brightness of {name} (percent)" {disabled}>
      </label>
      <label class="control control-color">
        <span>Colour</span>
        <input type="color" name="color" value="{color}" data-control="color" \
aria-label="Colour of {name}" {disabled}>
      </label>
      {swatches}
      <label class="control">
        <span>Effect</span>
        <select name="effect" data-control="effect" aria-label="Effect of {name}" {disabled}>\
{effect_options}</select>
      </label>
      <label class="control">
        <span>Speed</span>
        <input type="range" name="speed" min="0" max="255" step="1" value="{speed}" \
data-control="speed" aria-label="Speed of {name}" {disabled}>
      </label>
      <noscript><button type="submit" class="small">Apply</button></noscript>
    </fieldset>
    <p class="error" data-role="error" role="alert" hidden></p>
  </form>
  {edit_link}
</article>"""

EDIT_LINK = """<a class="small-link" href="{href}">Rename or move\
<span class="visually-hidden"> {name}</span></a>"""


def _escape(value: Any) -> str:
    # The same escaping as Django's escape() (& < > " ' all replaced) without its lazy-string
    # wrapper, which dominated the cost of a 500-light page.
    return value if isinstance(value, SafeString) else html.escape(str(value), quote=True)


def _format(template: str, **values: Any) -> SafeString:
    return mark_safe(template.format(**{k: _escape(v) for k, v in values.items()}))  # noqa: S308


@lru_cache(maxsize=1024)
def effect_options(effects: Sequence[str], selected: str) -> SafeString:
    """The <option>s of the effect menu; most lights of a home share the same few."""
    return mark_safe("".join(  # noqa: S308 (each part escaped)
        '<option value="{0}"{1}>{0}</option>'.format(
            _escape(name), " selected" if name == selected else "")
        for name in effects
    ))


SWATCH = """<button type="submit" class="swatch swatch-{cls}" name="{field}" value="{value}" \
aria-label="{label}" title="{label}" {disabled}></button>"""


@lru_cache(maxsize=256)
def swatches(name: str, disabled: str) -> SafeString:
    """One-tap whites and colours, named in words (devices/words.py)."""
    whites = "".join(_format(SWATCH, cls=f"k{k}", field="color_temp_k", value=k,
                             label=f"{label} for {name}", disabled=disabled)
                     for k, label in words.WHITE_SWATCHES)
    colours = "".join(_format(SWATCH, cls=label.lower(), field="color", value=hex_,
                              label=f"{label} for {name}", disabled=disabled)
                      for hex_, label in words.COLOR_SWATCHES)
    return mark_safe(  # noqa: S308 (each part escaped)
        f'<div class="swatches" role="group" aria-label="Whites and colours of '
        f'{_escape(name)}">{whites}{colours}</div>')


def light_card(card: dict[str, Any], csrf_token: str, can_control: bool) -> SafeString:
    """One card from the view's precomputed `card` dict (see devices.views._card)."""
    device, live, look = card["device"], card["live"], card["look"]
    return _format(
        CARD,
        code=card["code"],
        name=device.name,
        strip=live["strip"],
        pending_class=" is-pending" if live["pending"] else "",
        offline_class="" if live["connected"] else " is-offline",
        status_class="online" if live["connected"] else "offline",
        status="Online" if live["connected"] else "Offline",
        pending_hidden="" if live["pending"] else "hidden",
        last_seen_iso=live["last_seen"] or "",
        # Last seen matters only while the light is away: an online light is seen right now.
        seen_hidden="hidden" if live["connected"] else "",
        last_seen=("" if live["connected"] else
                   f"last seen {timesince(device.last_seen)} ago" if device.last_seen
                   else "never seen"),
        pending_text="pending" if live["connected"] else "applies when the light is back",
        shown=card["shown_text"],
        state_url=card["state_url"],
        csrf_token=csrf_token,
        disabled="" if can_control else "disabled",
        checked="checked" if look["on"] else "",
        brightness=look["brightness"],
        color=look["color"],
        swatches=swatches(device.name, "" if can_control else "disabled"),
        effect_options=effect_options(tuple(card["effects"]), look["effect"]),
        speed=look["speed"],
        edit_link=(_format(EDIT_LINK, href=card["edit_url"], name=device.name)
                   if can_control else ""),
    )
