"""The HTML of one light's tile on the dashboard (its controls are in the one detail sheet).

Built with one str.format() call instead of a template include: a home can have hundreds of
lights, and the template engine's per-variable cost made a 500-light dashboard several times
slower (bench/dashboard.py). Every value is HTML-escaped unless it is already safe markup; the
markup is what static/js/devices.js and the tests look for (data-role / data-control).
"""

from __future__ import annotations

import html
from typing import Any

from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

from devices.models import Device
from devices.picture import gradient

# The toggle submits the page's one form#tile-toggles (its CSRF token) to this light's URL:
# one token for the page rather than one a tile, which keeps 50 lights under 60 KB.
# The pending badge and "last seen" are left out while they would be hidden (devices.js adds
# them when needed), and the stylesheet finds the parts by their data attributes: with 50
# lights every byte here counts fifty times. The "Adjust" button is in no form: it submits
# nothing.
CARD = """<article class="tile{on_class}{pending_class}{offline_class}" id="light-{code}">\
<button type="submit" form="tile-toggles" formaction="{state_url}" name="on" value="{toggle_to}" \
data-control="on" aria-pressed="{pressed}"{disabled}>{name}</button>\
<p data-role="shown">{shown}</p>\
<div class="strip" data-role="strip" data-strip="{strip}" aria-hidden="true"></div>\
<p class="tile-meta"><span data-role="status">{status}</span>{pending}{seen}</p>\
<button data-open-sheet aria-haspopup="dialog">Adjust\
<span class="visually-hidden"> {name}</span></button></article>"""
PENDING = '<span class="pending-badge" data-role="pending">{text}</span>'
SEEN = '<span data-role="last-seen">{text}</span>'


def _escape(value: Any) -> str:
    # The same escaping as Django's escape() (& < > " ' all replaced) without its lazy-string
    # wrapper, which dominated the cost of a 500-light page.
    return value if isinstance(value, SafeString) else html.escape(str(value), quote=True)


def _format(template: str, **values: Any) -> SafeString:
    return mark_safe(template.format(**{k: _escape(v) for k, v in values.items()}))  # noqa: S308


def light_card(device: Device, light: dict[str, Any], state_url: str,
               can_control: bool) -> SafeString:
    """One tile, from the light as the API answers it (devices.api.device_out)."""
    connected, pending, look = light["connected"], light["pending"], light["look"]
    return _format(
        CARD,
        code=light["code"],
        name=device.name,
        strip=gradient(light["picture"]),
        on_class=" is-on" if light["shown"].get("on") else "",
        pending_class=" is-pending" if pending else "",
        offline_class="" if connected else " is-offline",
        status="Online" if connected else "Offline",
        pending=_format(PENDING, text="pending" if connected
                        else "applies when the light is back") if pending else "",
        # Last seen matters only while the light is away: an online light is seen right now.
        seen="" if connected else _format(
            SEEN, text=f"last seen {timesince(device.last_seen)} ago" if device.last_seen
            else "never seen"),
        shown=light["words"],
        state_url=state_url,
        disabled="" if can_control else " disabled",
        pressed="true" if look.get("on") else "false",
        toggle_to="false" if look.get("on") else "true",
    )
