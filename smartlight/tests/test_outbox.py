"""The mirror outbox: recorded with the change, pushed after commit, kept until it succeeds."""

import pytest
from botocore.exceptions import EndpointConnectionError

from accounts.models import IotCookieOutbox
from smartlight import outbox


def failing_push():
    raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")


@pytest.mark.django_db
def test_marking_twice_bumps_the_version_of_one_row(django_capture_on_commit_callbacks):
    queued = []
    with django_capture_on_commit_callbacks(execute=True):
        outbox.mark(IotCookieOutbox, ["u1"], "user_id", queued.append)
        outbox.mark(IotCookieOutbox, ["u1"], "user_id", queued.append)

    assert IotCookieOutbox.objects.get(user_id="u1").version == 2
    assert queued == ["u1", "u1"]


@pytest.mark.django_db
def test_a_broker_outage_keeps_the_change(django_capture_on_commit_callbacks):
    def broker_down(key):
        raise ConnectionError("broker unreachable")

    with django_capture_on_commit_callbacks(execute=True):
        outbox.mark(IotCookieOutbox, ["u1"], "user_id", broker_down)

    assert IotCookieOutbox.objects.filter(user_id="u1").exists()


@pytest.mark.django_db
def test_a_failed_push_records_the_error_and_keeps_the_row():
    IotCookieOutbox.objects.create(user_id="u1")

    with pytest.raises(EndpointConnectionError):
        outbox.push_entry(IotCookieOutbox, "user_id", "u1", failing_push)

    entry = IotCookieOutbox.objects.get(user_id="u1")
    assert entry.attempts == 1
    assert "127.0.0.1:1" in entry.last_error


@pytest.mark.django_db
def test_a_change_during_the_push_keeps_the_row_for_its_own_push():
    IotCookieOutbox.objects.create(user_id="u1")

    def push_while_changed():
        IotCookieOutbox.objects.filter(user_id="u1").update(version=2)
        return "put"

    assert outbox.push_entry(IotCookieOutbox, "user_id", "u1", push_while_changed) == "put"
    assert IotCookieOutbox.objects.get(user_id="u1").version == 2


@pytest.mark.django_db
def test_a_successful_push_clears_the_row():
    IotCookieOutbox.objects.create(user_id="u1")

    assert outbox.push_entry(IotCookieOutbox, "user_id", "u1", lambda: "put") == "put"
    assert not IotCookieOutbox.objects.exists()


@pytest.mark.django_db
def test_flush_reports_what_is_still_pending():
    IotCookieOutbox.objects.create(user_id="ok")
    IotCookieOutbox.objects.create(user_id="down")

    def push(key):
        return outbox.push_entry(IotCookieOutbox, "user_id", key,
                                 failing_push if key == "down" else (lambda: "put"))

    assert outbox.flush(IotCookieOutbox, "user_id", push, "test") == 1
    assert list(IotCookieOutbox.objects.values_list("user_id", flat=True)) == ["down"]


def test_backoff_grows_and_is_capped():
    assert all(0 <= outbox.backoff(0) <= 5 for _ in range(50))
    assert all(0 <= outbox.backoff(20) <= 600 for _ in range(50))
    assert max(outbox.backoff(3) for _ in range(200)) > 5
