"""Random text, with NUL and other control characters, thrown at every text field of the
portal and the API: never a server error, and a refused value changes nothing.

Runs on the suite's database: PostgreSQL under `make test` (where a NUL used to be a 500),
SQLite under `make test-sqlite`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smartlight.text import text_problem

CONTROLS = ["\x00", "\n", "\r", "\t", "\x07", "\x1b", "\x1f", "\x7f", "\x85", "\x9f"]
EXAMPLES = 12


def texts(surrogates: bool) -> st.SearchStrategy[str]:
    """Short texts that often hold control characters; JSON can also carry lone surrogates."""
    blacklist = ("Cc",) if surrogates else ("Cc", "Cs")
    chars = st.characters(blacklist_categories=blacklist)
    if surrogates:
        chars = chars | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
    return st.text(st.sampled_from(CONTROLS) | chars, min_size=0, max_size=40) | st.builds(
        lambda a, c, b: a + c + b, st.text(chars, max_size=10), st.sampled_from(CONTROLS),
        st.text(chars, max_size=10),
    )


@dataclass(frozen=True)
class Field:
    label: str
    api: bool
    send: Callable  # (client, world, text) -> response
    strips: bool = True  # the field strips surrounding whitespace before checking
    # A room's state is a batch: a value every light refuses is 200 with each light "failed".
    batch: bool = False


def _form(method: str, path: Callable[[dict], str], body: Callable[[dict, str], dict]):
    def send(client, world, text):
        return getattr(client, method)(path(world), body(world, text))

    return send


def _json(method: str, path: Callable[[dict], str], body: Callable[[dict, str], dict]):
    def send(client, world, text):
        return getattr(client, method)(
            f"/api/v1{path(world)}", json.dumps(body(world, text)),
            content_type="application/json",
        )

    return send


def _weekly(world, **fields) -> dict:
    return {"trigger": "weekly", "run_time": "07:00", "weekdays": [0],
            "devices": [world["light"]], "desired": {"on": True}, **fields}


def _weekly_form(world, **fields) -> dict:
    return {"name": "Wake", "trigger": "weekly", "run_time": "07:00", "weekdays": ["0"],
            "action": "state", "devices": [world["light"]], "on": "on", "enabled": "on",
            **fields}


FIELDS = [
    # --- portal ---
    Field("portal home settings name", False, _form(
        "post", lambda w: f"/homes/{w['home']}/settings/",
        lambda w, t: {"name": t, "timezone": "UTC"})),
    Field("portal new home name", False, _form(
        "post", lambda w: "/homes/new/", lambda w, t: {"name": t, "timezone": "UTC"})),
    Field("portal token name", False, _form("post", lambda w: "/tokens/",
                                            lambda w, t: {"name": t})),
    Field("portal invitation e-mail", False, _form(
        "post", lambda w: f"/homes/{w['home']}/members/invite/",
        lambda w, t: {"email": t, "role": "member"})),
    Field("portal new room name", False, _form("post", lambda w: "/rooms/",
                                               lambda w, t: {"name": t})),
    Field("portal room rename", False, _form("post", lambda w: f"/rooms/{w['room']}/",
                                             lambda w, t: {"name": t})),
    Field("portal light name", False, _form("post", lambda w: f"/lights/{w['light']}/",
                                            lambda w, t: {"name": t, "room": ""})),
    Field("portal light effect", False, _form("post", lambda w: f"/lights/{w['light']}/state/",
                                              lambda w, t: {"effect": t})),
    Field("portal light colour", False, _form("post", lambda w: f"/lights/{w['light']}/state/",
                                              lambda w, t: {"color": t})),
    Field("portal claim code", False, _form("post", lambda w: "/lights/add/",
                                            lambda w, t: {"code": t})),
    Field("portal scene name", False, _form(
        "post", lambda w: "/scenes/", lambda w, t: {"name": t, "devices": [w["light"]]})),
    Field("portal new schedule name", False, _form(
        "post", lambda w: "/schedules/new/", lambda w, t: _weekly_form(w, name=t))),
    Field("portal new schedule cron", False, _form(
        "post", lambda w: "/schedules/new/",
        lambda w, t: _weekly_form(w, trigger="cron", cron=t))),
    Field("portal schedule rename", False, _form(
        "post", lambda w: f"/schedules/{w['schedule']}/", lambda w, t: _weekly_form(w, name=t))),
    Field("portal schedule effect", False, _form(
        "post", lambda w: f"/schedules/{w['schedule']}/",
        lambda w, t: _weekly_form(w, effect=t))),
    Field("portal schedule preview cron", False, _form(
        "post", lambda w: "/schedules/preview/", lambda w, t: {"trigger": "cron", "cron": t})),
    # --- API ---
    Field("API new room name", True, _json("post", lambda w: "/rooms",
                                           lambda w, t: {"name": t})),
    Field("API room rename", True, _json("patch", lambda w: f"/rooms/{w['room']}",
                                         lambda w, t: {"name": t})),
    Field("API light name", True, _json("patch", lambda w: f"/devices/{w['light']}",
                                        lambda w, t: {"name": t})),
    Field("API light effect", True, _json("patch", lambda w: f"/devices/{w['light']}/state",
                                          lambda w, t: {"effect": t}), strips=False),
    Field("API light colour", True, _json("patch", lambda w: f"/devices/{w['light']}/state",
                                          lambda w, t: {"color": t}), strips=False),
    Field("API room effect", True, _json("patch", lambda w: f"/rooms/{w['room']}/state",
                                         lambda w, t: {"effect": t}), strips=False, batch=True),
    Field("API claim code", True, _json("post", lambda w: "/claims",
                                        lambda w, t: {"code": t}), strips=False),
    Field("API scene name", True, _json(
        "post", lambda w: "/scenes", lambda w, t: {"name": t, "devices": [w["light"]]})),
    Field("API new schedule name", True, _json(
        "post", lambda w: "/schedules", lambda w, t: _weekly(w, name=t))),
    Field("API new schedule cron", True, _json(
        "post", lambda w: "/schedules", lambda w, t: _weekly(w, name="C", trigger="cron",
                                                             cron=t)), strips=False),
    Field("API schedule rename", True, _json(
        "patch", lambda w: f"/schedules/{w['schedule']}", lambda w, t: {"name": t})),
    Field("API schedule cron", True, _json(
        "patch", lambda w: f"/schedules/{w['schedule']}",
        lambda w, t: {"trigger": "cron", "cron": t}), strips=False),
    Field("API schedule effect", True, _json(
        "patch", lambda w: f"/schedules/{w['schedule']}",
        lambda w, t: {"desired": {"effect": t}}), strips=False),
    Field("API schedule preview cron", True, _json(
        "post", lambda w: "/schedules/preview",
        lambda w, t: {"name": "P", "trigger": "cron", "cron": t}), strips=False),
]


def stored() -> dict:
    """Everything a text field can write, to compare before and after a refusal."""
    from accounts.models import ApiToken, Home, Invitation, Membership
    from devices.models import Device, Room, Scene
    from schedules.models import Schedule

    state = {}
    for model in (Home, Membership, Invitation, ApiToken, Room, Device, Scene, Schedule):
        rows = model.objects.order_by("pk").values()
        state[model.__name__] = [
            {k: v for k, v in row.items() if k not in {"last_used", "changed"}} for row in rows
        ]
    return state


@pytest.fixture
def world(aws, client, bob, home, settings):
    """bob (a member) signed in, with a light that has a shadow, a room and a schedule."""
    settings.CLAIM_GUESSES_PER_WINDOW = 100_000  # every example is a wrong claim code
    from devices.models import Device, Room
    from schedules import actions

    room = Room.objects.create(home=home, name="Hall")
    light = Device.objects.create(home=home, room=room, name="Lamp", thing_name="sl-00000000f001",
                                  reported={"effects": ["solid", "rainbow"], "on": False})
    aws.client("iot").create_thing(thingName=light.thing_name)
    aws.client("iot-data").update_thing_shadow(
        thingName=light.thing_name,
        payload=json.dumps({"state": {"reported": {"on": False}}}).encode(),
    )
    schedule = actions.do_create_schedule(home, actions.clean_schedule(home, _weekly(
        {"light": str(light.code)}, name="Wake", run_time=dt.time(7))))
    client.force_login(bob, backend="django.contrib.auth.backends.ModelBackend")
    return {"client": client, "home": str(home.code), "room": str(room.code),
            "light": str(light.code), "schedule": str(schedule.code)}


@pytest.mark.parametrize("field", FIELDS, ids=lambda f: f.label)
def test_random_text_never_breaks_a_field_and_a_refusal_changes_nothing(world, field):
    client = world["client"]

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(text=texts(surrogates=field.api))
    def throw(text: str) -> None:
        checked = text.strip() if field.strips else text
        before = stored()
        response = field.send(client, world, text)
        assert response.status_code < 500, (text, response.content[:500])
        if text_problem(checked):
            if field.batch and response.status_code == 200:
                assert response.json()["changed"] == [], text
            elif field.api:
                assert response.status_code == 422, (text, response.content[:500])
            assert stored() == before, text

    throw()
