"""What apps built on accounts (devices, schedules) tell accounts, and are told by it.

Apps depend in one direction, accounts ← devices ← schedules: accounts never imports them.
Where accounts needs something only a higher app knows (the things of a home for the
iot_cookie item) or must tell it of a change (a home's clock or location moved), that app
registers a function here in its AppConfig.ready, and accounts calls whatever is registered.
These are explicit calls from actions, inside the caller's transaction, not Django signals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from accounts.models import Home

# home ids -> {home id: [thing names]}
ThingsOfHomes = Callable[[Iterable[int]], dict[int, list[str]]]

_things_of_homes: list[ThingsOfHomes] = []
_clock_changed: list[Callable[[Home], object]] = []
_location_needed: list[Callable[[Home], list[str]]] = []


def _add(receivers: list, receiver: Callable) -> Callable:
    if receiver not in receivers:
        receivers.append(receiver)
    return receiver


def provide_things_of_homes(receiver: ThingsOfHomes) -> ThingsOfHomes:
    return _add(_things_of_homes, receiver)


def on_home_clock_changed(receiver: Callable[[Home], object]) -> Callable:
    return _add(_clock_changed, receiver)


def on_location_needed(receiver: Callable[[Home], list[str]]) -> Callable:
    return _add(_location_needed, receiver)


def things_of_homes(home_ids: Iterable[int]) -> dict[int, list[str]]:
    """The thing names of each home, from every registered provider."""
    home_ids = list(home_ids)
    found: dict[int, list[str]] = {}
    for provider in _things_of_homes:
        for home_id, things in provider(home_ids).items():
            found.setdefault(home_id, []).extend(things)
    return found


def home_clock_changed(home: Home) -> None:
    """The home's time zone or location changed (call inside the transaction that saved it)."""
    for receiver in _clock_changed:
        receiver(home)


def location_needed(home: Home) -> list[str]:
    """Why the home's location cannot be removed: one sentence per app that needs it."""
    reasons: list[str] = []
    for receiver in _location_needed:
        reasons.extend(receiver(home))
    return reasons
