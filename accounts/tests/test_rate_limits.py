"""Rate limits on the API (per address, per token) and on sign-in (per address and per
(account, address) pair), counted in stores that every worker process shares."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from accounts import ratelimit
from accounts.models import ApiToken, RateCounter
from conftest import in_threads

PASSWORD = "correct-horse-battery"
ROOMS = "/api/v1/rooms"


def _get(client, token: str, address: str = "192.0.2.1"):
    return client.get(ROOMS, headers={"Authorization": f"Bearer {token}"}, REMOTE_ADDR=address)


def test_a_token_over_its_rate_gets_429_with_retry_after(client, bob, home, settings):
    settings.API_RATE_PER_TOKEN = "3/m"
    _, raw = ApiToken.issue(bob, "busy script")
    assert [_get(client, raw).status_code for _ in range(3)] == [200, 200, 200]
    refused = _get(client, raw)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_one_busy_token_does_not_hold_back_another(client, alice, bob, home, settings):
    settings.API_RATE_PER_TOKEN = "2/m"
    _, busy = ApiToken.issue(bob, "busy")
    _, calm = ApiToken.issue(alice, "calm")
    for _ in range(2):
        _get(client, busy)
    assert _get(client, busy).status_code == 429
    assert _get(client, calm).status_code == 200


def test_an_address_over_its_rate_gets_429_whatever_token_or_none(client, alice, bob, home,
                                                                   settings):
    settings.API_RATE_PER_ADDRESS = "4/m"
    _, first = ApiToken.issue(bob, "one")
    _, second = ApiToken.issue(alice, "two")
    assert [_get(client, t).status_code for t in (first, second, first, second)] == [200] * 4
    assert _get(client, first).status_code == 429
    assert _get(client, second).status_code == 429
    anonymous = client.get(ROOMS, REMOTE_ADDR="192.0.2.1")
    assert anonymous.status_code == 429  # counted before any token lookup
    assert _get(client, first, address="198.51.100.7").status_code == 200


def test_a_forged_forwarded_for_header_does_not_buy_a_fresh_budget(client, bob, home, settings):
    settings.API_RATE_PER_ADDRESS = "2/m"
    _, raw = ApiToken.issue(bob, "sly")
    for n in range(2):
        _get(client, raw)
    forged = client.get(ROOMS, headers={"Authorization": f"Bearer {raw}",
                                        "X-Forwarded-For": "203.0.113.99"},
                        REMOTE_ADDR="192.0.2.1")
    assert forged.status_code == 429


def test_the_counter_is_exact_under_concurrent_connections(transactional_db):
    """Each thread has its own database connection, as each worker process has."""
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        # The in-memory test database shares one cache between connections, where a writer
        # meets SQLITE_LOCKED at once instead of waiting out the busy timeout: that is not how
        # worker processes share a database file (or PostgreSQL, where this test runs in CI).
        pytest.skip("in-memory SQLite's shared cache does not model separate worker processes")
    rate = ratelimit.Rate.parse("50/h")
    now = 1_000_000.0
    verdicts: list[float | None] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            for _ in range(20):
                verdict = ratelimit.hit("test", "shared", rate, now=now)
                with lock:
                    verdicts.append(verdict)
        finally:
            connection.close()

    in_threads(worker, 4)

    assert len(verdicts) == 80
    assert sum(v is None for v in verdicts) == 50
    assert RateCounter.objects.get().count == 80


def test_a_new_window_starts_a_new_count_and_clears_ended_ones(db):
    rate = ratelimit.Rate.parse("1/m")
    assert ratelimit.hit("t", "x", rate, now=60.0) is None
    assert ratelimit.hit("t", "x", rate, now=61.0) == pytest.approx(59.0)
    assert ratelimit.hit("t", "x", rate, now=125.0) is None
    assert RateCounter.objects.count() == 1


@pytest.mark.parametrize("text", ["", "5", "5/w", "x/m", "5/m/ip"])
def test_a_bad_rate_is_refused_with_its_text(text):
    with pytest.raises(ValueError, match="bad rate"):
        ratelimit.Rate.parse(text)


# --- sign-in ---------------------------------------------------------------------------------
def _sign_in(client, email: str, password: str, address: str):
    return client.post(
        "/accounts/login/", {"login": email, "password": password}, REMOTE_ADDR=address
    )


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_wrong_passwords_lock_out_only_the_guessing_address(client, alice, home):
    attacker, owner = "203.0.113.5", "198.51.100.20"
    for _ in range(5):
        _sign_in(client, "alice@example.com", "guess", attacker)
    refused = _sign_in(client, "alice@example.com", PASSWORD, attacker)
    assert not _signed_in(client)
    assert b"Too many failed login attempts" in refused.content

    _sign_in(client, "alice@example.com", PASSWORD, owner)
    assert _signed_in(client)


def test_an_address_guessing_across_accounts_is_slowed_down(client, alice, bob, home):
    attacker = "203.0.113.6"
    for n in range(10):
        _sign_in(client, f"nobody{n}@example.com", "guess", attacker)
    _sign_in(client, "bob@example.com", PASSWORD, attacker)
    assert not _signed_in(client)
    _sign_in(client, "bob@example.com", PASSWORD, "198.51.100.21")
    assert _signed_in(client)


def test_sign_in_counts_live_in_the_shared_database_cache(client, alice, home, settings):
    """Not in the process's memory: every worker process reads and adds to the same rows."""
    if not settings.CACHES["default"]["BACKEND"].endswith("db.DatabaseCache"):
        pytest.skip("the shared cache is Redis here")
    for _ in range(5):
        _sign_in(client, "alice@example.com", "guess", "203.0.113.7")
    table = connection.ops.quote_name(settings.CACHES["default"]["LOCATION"])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT cache_key FROM {table}")  # noqa: S608
        keys = [row[0] for row in cursor.fetchall()]
    assert any("login_failed" in key for key in keys)


def test_behind_the_load_balancer_the_address_is_the_one_it_saw(rf, settings):
    from accounts.api_auth import client_address

    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    forged = rf.get("/", HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.1", REMOTE_ADDR="10.0.0.2")
    assert client_address(forged) == "198.51.100.1"
    direct = rf.get("/", REMOTE_ADDR="10.0.0.2")
    assert client_address(direct) == "10.0.0.2"
