from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts import iot_cookie
from accounts.models import IotCookieOutbox


def run(*args):
    out = StringIO()
    call_command("reconcile_iot_cookie", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_it_reports_no_drift_when_the_table_matches(alice, bob, vera, home, iot_table):
    for user in (alice, bob, vera):
        iot_cookie.push(user.iot_user_id)
    IotCookieOutbox.objects.all().delete()  # what the pushes above stand for
    assert run().strip() == "no drift"


def test_it_finds_missing_stale_and_orphan_items_without_changing_them(
    alice, bob, vera, home, iot_table
):
    iot_cookie.push(alice.iot_user_id)
    IotCookieOutbox.objects.all().delete()
    iot_table.put_item(
        TableName="iot_cookie",
        Item={"user_id": {"S": bob.iot_user_id}, "homes": {"L": []}, "things": {"L": []}},
    )
    iot_table.put_item(TableName="iot_cookie", Item={"user_id": {"S": "gone-user"}})

    out = run()

    assert f"{bob.iot_user_id}: item differs in email, homes" in out
    assert f"{vera.iot_user_id}: item missing in DynamoDB" in out
    assert "gone-user: item in DynamoDB for a user with no home" in out
    assert "3 drifting (run with --fix to repair)" in out
    assert iot_cookie.remote_item("gone-user") is not None  # a report changes nothing


def test_fix_repairs_every_kind_of_drift(alice, bob, vera, home, iot_table):
    iot_table.put_item(TableName="iot_cookie", Item={"user_id": {"S": "gone-user"}})
    # alice's change (her home's creation) still waits in the outbox; bob and vera are missing.
    assert IotCookieOutbox.objects.filter(user_id=alice.iot_user_id).exists()

    out = run("--fix")

    assert "fixed 4; 0 still drifting" in out
    assert iot_cookie.remote_item("gone-user") is None
    assert iot_cookie.remote_item(vera.iot_user_id) == iot_cookie.expected_item(vera.iot_user_id)
    assert not IotCookieOutbox.objects.exists()
    assert run().strip() == "no drift"


def test_it_fails_clearly_when_the_table_is_unreachable(alice, home, iot_table):
    iot_table.delete_table(TableName="iot_cookie")
    with pytest.raises(CommandError, match="cannot read the iot_cookie table"):
        run()
