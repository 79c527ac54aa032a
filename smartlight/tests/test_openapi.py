"""The OpenAPI document says what the API does: status codes, nullable keys, local times."""

from __future__ import annotations

import json

import pytest

from accounts.models import ApiToken


@pytest.fixture
def document(client, db):
    return client.get("/api/v1/openapi.json").json()


def _schema(document, name):
    return document["components"]["schemas"][name]["properties"]


def _nullable(prop) -> bool:
    return any(option.get("type") == "null" for option in prop.get("anyOf", []))


def test_every_operation_documents_the_shared_error_answers(document):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for code in ("400", "401", "403", "404", "422", "429"):
                assert code in operation["responses"], (method, path, code)


def test_the_bearer_scheme_is_documented(document):
    schemes = document["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())


def test_patch_keys_are_nullable_only_where_null_means_none(document):
    schedule = _schema(document, "SchedulePatch")
    assert {k for k, v in schedule.items() if _nullable(v)} == {"run_date", "run_time", "scene"}
    device = _schema(document, "DevicePatch")
    assert _nullable(device["room"]) and not _nullable(device["name"])


def test_times_are_documented_as_local_without_offset(document):
    run_time = _schema(document, "ScheduleOut")["run_time"]
    option = next(o for o in run_time["anyOf"] if o.get("type") == "string")
    assert "format" not in option and option["pattern"].startswith("^")


def test_null_where_documented_works_and_elsewhere_is_422(client, bob, home):
    from devices.models import Device, Room

    room = Room.objects.create(home=home, name="Hall")
    light = Device.objects.create(home=home, room=room, name="Lamp", thing_name="sl-00000000a0b1")
    _, raw = ApiToken.issue(bob, "t")
    headers = {"Authorization": f"Bearer {raw}"}

    def patch(body):
        return client.patch(f"/api/v1/devices/{light.code}", json.dumps(body),
                            content_type="application/json", headers=headers)

    assert patch({"name": None}).status_code == 422
    assert patch({"room": None}).status_code == 200
    light.refresh_from_db()
    assert light.room is None and light.name == "Lamp"
