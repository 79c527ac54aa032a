"""Shared fixtures: alice owns a home, bob is a member of it, charlie lives elsewhere.

`vera` is a viewer in alice's home. Every view test shows that charlie gets 404 and that vera
cannot change anything.
"""

from __future__ import annotations

import os

import pytest

# Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "correct-horse-battery"


def in_threads(target, count: int) -> None:
    """Run `target` in `count` threads at once and wait for all of them."""
    import threading

    threads = [threading.Thread(target=target) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """PBKDF2's deliberate slowness (~0.3 s a user here) would dominate the suite."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def celery_eager():
    """Run Celery tasks in-process.

    Set on the app, not through CELERY_TASK_ALWAYS_EAGER: pytest-django loads the settings
    before this module is imported, so the environment would come too late.
    """
    from smartlight import celery_app

    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


def _commits(request: pytest.FixtureRequest) -> bool:
    """Whether pytest-django runs this test as a TransactionTestCase (its writes commit)."""
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and (marker.kwargs.get("transaction") or marker.kwargs.get(
            "reset_sequences") or (marker.args and marker.args[0])):
        return True
    return bool({"transactional_db", "live_server", "django_db_reset_sequences"}
                & set(request.fixturenames))


@pytest.fixture(autouse=True)
def shared_cache_emptied_after_committing_tests(request, django_db_blocker):
    """Empty the database cache after a test whose writes commit.

    Sign-in failures are counted in the shared cache, the `smartlight_cache` table. Django's
    flush after a transactional test empties only the tables of models, so without this the
    failures one test provokes from 127.0.0.1 could lock a later test out in the same test
    database.
    Redis (REDIS_URL) is left alone: clearing it would flush keys other processes may use.
    """
    yield
    from django.conf import settings

    if _commits(request) and settings.CACHES["default"]["BACKEND"].endswith("db.DatabaseCache"):
        from django.core.cache import cache

        with django_db_blocker.unblock():
            cache.clear()


@pytest.fixture
def alice(db):
    from accounts.models import User

    return User.objects.create_user("alice@example.com", PASSWORD)


@pytest.fixture
def bob(db):
    from accounts.models import User

    return User.objects.create_user("bob@example.com", PASSWORD)


@pytest.fixture
def charlie(db):
    from accounts.models import User

    return User.objects.create_user("charlie@example.com", PASSWORD)


@pytest.fixture
def vera(db):
    from accounts.models import User

    return User.objects.create_user("vera@example.com", PASSWORD)


@pytest.fixture
def home(alice, bob, vera):
    from accounts.actions import do_create_home
    from accounts.models import Membership, Role

    home = do_create_home(alice, "Alice's Home", timezone="Europe/Berlin")
    Membership.objects.create(user=bob, home=home, role=Role.MEMBER)
    Membership.objects.create(user=vera, home=home, role=Role.VIEWER)
    return home


@pytest.fixture
def charlies_home(charlie):
    from accounts.actions import do_create_home

    return do_create_home(charlie, "Charlie's Home", timezone="America/New_York")


@pytest.fixture
def aws(settings):
    """moto in-process for every boto3 client the platform builds (no network at all).

    moto intercepts AWS's own endpoint names, so the local-mode endpoints are switched off.
    The factory's cached clients are kept from test to test (building one costs ~0.1 s): moto
    intercepts them whenever a mock is active, and each mock_aws() starts from empty backends.
    """
    from moto import mock_aws

    from smartlight import aws as factory

    settings.AWS_MODE = "aws"
    settings.IOT_DATA_ENDPOINT_URL = ""
    settings.AWS_ENDPOINT_OVERRIDES = {}
    with mock_aws():
        yield factory


@pytest.fixture
def client_for(client):
    """client_for(user) signs `user` in on the test client and returns it."""

    def sign_in(user):
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return sign_in


# --- browser tests ----------------------------------------------------------------------------
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright (never a downloaded browser build).

    Module-scoped on purpose: Playwright's sync API keeps an event loop running in the main
    thread while it lives, and tests elsewhere call asyncio.run().
    """
    import shutil

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(chromium):
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if os.environ.get("SMARTLIGHT_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser page whose relative URLs go to the live test server."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    context.close()
