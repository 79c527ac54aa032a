"""Every operation of the API, fuzzed by Schemathesis against a live server.

Requests carry an owner's API token and, for operations on one object, the code of a real
object of the owner's home (random codes would only ever reach the 404 branch). Positive and
negative data; the checks: no server error, every status code, content type, header and body
as the OpenAPI document says, and data the document calls invalid is refused.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import Counter

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import ApiToken

pytestmark = pytest.mark.django_db(transaction=True)

# Examples per operation and generation mode: about 500 requests in all.
EXAMPLES = 10
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
REPORTED = {"on": True, "brightness": 200, "color": "#ff8800", "effect": "solid",
            "speed": 128, "effects": ["solid", "rainbow"], "connected": True}


@pytest.fixture
def cookie_table(aws, settings):
    aws.client("dynamodb").create_table(
        TableName=settings.IOT_COOKIE_TABLE,
        AttributeDefinitions=[{"AttributeName": "user_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "user_id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def world(aws, cookie_table, settings, alice, home):
    """alice's home with a light (with a shadow), a room, a scene and a schedule."""
    from devices.models import Device, Room, Scene
    from schedules import actions

    settings.API_RATE_PER_ADDRESS = settings.API_RATE_PER_TOKEN = "100000/m"
    room = Room.objects.create(home=home, name="Hall")
    light = Device.objects.create(home=home, room=room, name="Lamp", thing_name="sl-00000000a001",
                                  reported=REPORTED, connected=True)
    aws.client("iot").create_thing(thingName=light.thing_name)
    aws.client("iot-data").update_thing_shadow(
        thingName=light.thing_name,
        payload=json.dumps({"state": {"reported": REPORTED}}).encode(),
    )
    scene = Scene.objects.create(home=home, name="Evening",
                                 states={light.thing_name: {"on": True, "brightness": 80}})
    schedule = actions.do_create_schedule(home, actions.clean_schedule(home, {
        "name": "Wake", "trigger": "weekly", "run_time": dt.time(7), "weekdays": [0, 1],
        "devices": [str(light.code)], "desired": {"on": True},
    }))
    _, token = ApiToken.issue(alice, "schemathesis")
    return {"home": home, "room": room, "light": light, "scene": scene, "schedule": schedule,
            "token": token}


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return isinstance(value, str)


def _fresh_code(world: dict, path: str) -> str:
    """The code of an object of the kind at `path`, recreated if a DELETE removed it."""
    from devices.models import Device, Room, Scene
    from schedules.models import Schedule

    home = world["home"]
    if path.startswith("/devices"):
        light = world["light"]
        device, _ = Device.objects.get_or_create(
            thing_name=light.thing_name,
            defaults={"home": home, "name": "Lamp", "reported": REPORTED, "connected": True},
        )
        return str(device.code)
    if path.startswith("/rooms"):
        return str(Room.objects.get_or_create(home=home, name="Hall")[0].code)
    if path.startswith("/scenes"):
        return str(Scene.objects.get_or_create(
            home=home, name="Evening", defaults={"states": {"sl-00000000a001": {"on": True}}}
        )[0].code)
    if path.startswith("/schedules"):
        schedule = Schedule.objects.filter(home=home).first()
        if schedule is None:
            from schedules import actions

            device = Device.objects.filter(home=home).first()
            schedule = actions.do_create_schedule(home, actions.clean_schedule(home, {
                "name": "Wake", "trigger": "weekly", "run_time": dt.time(7), "weekdays": [0],
                "devices": [str(device.code)] if device else [], "desired": {"on": True},
            }))
        return str(schedule.code)
    raise AssertionError(f"no object kind for {path}")


@pytest.fixture
def prompt_live_server(live_server, monkeypatch):
    """The live server with Nagle's algorithm off: its responses go out in several small
    writes, which otherwise wait ~40 ms each for the client's delayed ACK."""
    from django.core.servers.basehttp import WSGIRequestHandler

    monkeypatch.setattr(WSGIRequestHandler, "disable_nagle_algorithm", True)
    return live_server


@pytest.fixture
def http():
    """One kept-alive HTTP session, closed after the test: while it stays open, the live
    server's thread for it keeps its database connection, and the test database cannot be
    dropped at the end of the run."""
    with requests.Session() as session:
        yield session


def test_every_operation_answers_as_its_openapi_document_says(prompt_live_server, world, http):
    live_server = prompt_live_server
    base = f"{live_server.url}/api/v1"
    document = requests.get(f"{base}/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(document)
    headers = {"Authorization": f"Bearer {world['token']}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    failures: dict[str, str] = {}
    statuses: Counter[int] = Counter()
    http.hooks["response"].append(lambda response, *args, **kwargs: statuses.update(
        [response.status_code]))
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=EXAMPLES, deadline=None, database=None,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case) -> None:
                code = (case.path_parameters or {}).get("code")
                if _is_uuid(code):
                    # A well-formed code becomes a real one; a malformed one (negative data)
                    # stays, to be refused.
                    case.path_parameters["code"] = _fresh_code(
                        world, operation.path.removeprefix("/api/v1")
                    )
                # Negative data may add any header, Host too: a host outside ALLOWED_HOSTS is
                # refused by Django before any operation sees the request (its HTML 400 once
                # failed the run at random), so the server is always reached as itself.
                for name in [n for n in (case.headers or {}) if n.lower() == "host"]:
                    del case.headers[name]
                case.call_and_validate(base_url=live_server.url, session=http, headers=headers,
                                       checks=CHECKS)

            try:
                run()
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - reported below
                failures[f"{operation.label} ({mode.value})"] = str(exc)[:3000]

    assert not failures, "\n\n".join(f"== {label}\n{text}" for label, text in failures.items())
    # The run reached past authentication and lookup: real objects were read and changed.
    assert statuses[200] > 50 and statuses[422] > 50, statuses
    print(f"schemathesis: {sum(statuses.values())} requests, statuses {dict(statuses)}")
