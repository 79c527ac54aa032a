"""The one outbox: each app registers its mirror; rows are recorded with the change, one task
pushes them after commit, and a row stays until its push succeeds."""

import pytest
from botocore.exceptions import EndpointConnectionError

from accounts.models import IotCookieOutbox
from smartlight import outbox

NAME = "test_mirror"


def failing_push(key):
    raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")


@pytest.fixture
def registered(monkeypatch):
    """A mirror named NAME over the iot_cookie rows, whose push is `pushes[key]` or "put"."""
    pushes: dict = {}
    queued: list = []
    monkeypatch.setitem(outbox._MIRRORS, NAME, outbox.Mirror(
        NAME, IotCookieOutbox, "user_id", lambda key: pushes.get(key, lambda k: "put")(key)))
    monkeypatch.setattr(outbox, "enqueue", lambda name, key: queued.append((name, key)))
    return pushes, queued


def test_every_app_registers_its_mirror_at_start():
    assert [m.name for m in outbox.mirrors()] == ["iot_cookie", "retired_thing", "schedule_mirror"]


def test_an_unknown_mirror_is_a_clear_error():
    with pytest.raises(LookupError, match="no outbox mirror named 'nope'"):
        outbox.get("nope")


@pytest.mark.django_db
def test_marking_twice_bumps_the_version_of_one_row(registered, django_capture_on_commit_callbacks):
    _, queued = registered
    with django_capture_on_commit_callbacks(execute=True):
        outbox.mark(NAME, ["u1"])
        outbox.mark(NAME, ["u1"])

    assert IotCookieOutbox.objects.get(user_id="u1").version == 2
    assert queued == [(NAME, "u1"), (NAME, "u1")]


@pytest.mark.django_db
def test_nothing_is_queued_when_the_transaction_rolls_back(registered,
                                                           django_capture_on_commit_callbacks):
    _, queued = registered
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        outbox.mark(NAME, ["u1"])
    assert queued == [] and len(callbacks) == 1


@pytest.mark.django_db
def test_a_broker_outage_keeps_the_change(registered, monkeypatch,
                                          django_capture_on_commit_callbacks):
    def broker_down(name, key):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(outbox, "enqueue", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        outbox.mark(NAME, ["u1"])

    assert IotCookieOutbox.objects.filter(user_id="u1").exists()


@pytest.mark.django_db
def test_a_failed_push_records_the_error_and_keeps_the_row(registered):
    pushes, _ = registered
    pushes["u1"] = failing_push
    IotCookieOutbox.objects.create(user_id="u1")

    with pytest.raises(EndpointConnectionError):
        outbox.push_entry(NAME, "u1")

    entry = IotCookieOutbox.objects.get(user_id="u1")
    assert entry.attempts == 1
    assert "127.0.0.1:1" in entry.last_error


@pytest.mark.django_db
def test_the_push_task_in_process_gives_up_quietly_and_keeps_the_row(registered):
    pushes, _ = registered
    pushes["u1"] = failing_push
    IotCookieOutbox.objects.create(user_id="u1")

    assert outbox.push.apply(args=[NAME, "u1"]).get() == "pending"
    assert IotCookieOutbox.objects.get(user_id="u1").attempts == 1


@pytest.mark.django_db
def test_a_change_during_the_push_keeps_the_row_for_its_own_push(registered):
    pushes, _ = registered
    IotCookieOutbox.objects.create(user_id="u1")

    def push_while_changed(key):
        IotCookieOutbox.objects.filter(user_id=key).update(version=2)
        return "put"

    pushes["u1"] = push_while_changed
    assert outbox.push_entry(NAME, "u1") == "put"
    assert IotCookieOutbox.objects.get(user_id="u1").version == 2


@pytest.mark.django_db
def test_a_successful_push_clears_the_row(registered):
    IotCookieOutbox.objects.create(user_id="u1")

    assert outbox.push.apply(args=[NAME, "u1"]).get() == "put"
    assert not IotCookieOutbox.objects.exists()


@pytest.mark.django_db
def test_flush_reports_what_is_still_pending(registered):
    pushes, _ = registered
    pushes["down"] = failing_push
    IotCookieOutbox.objects.create(user_id="ok")
    IotCookieOutbox.objects.create(user_id="down")

    assert outbox.flush(NAME) == 1
    assert list(IotCookieOutbox.objects.values_list("user_id", flat=True)) == ["down"]


def test_backoff_grows_and_is_capped():
    assert all(0 <= outbox.backoff(0) <= 5 for _ in range(50))
    assert all(0 <= outbox.backoff(20) <= 600 for _ in range(50))
    assert max(outbox.backoff(3) for _ in range(200)) > 5
