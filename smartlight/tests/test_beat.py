"""Exactly one beat per environment: a lock only one process holds, lost with its connection."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from django.db import connection

from smartlight import beat


def postgres_params() -> dict:
    settings = connection.settings_dict
    return {
        "dbname": settings["NAME"],
        "user": settings["USER"] or None,
        "password": settings["PASSWORD"] or None,
        "host": settings["HOST"] or None,
        "port": settings["PORT"] or None,
    }


@pytest.fixture
def postgres(db):
    if connection.vendor != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's; SQLite runs use the file lock")
    return {k: v for k, v in postgres_params().items() if v is not None}


def test_only_one_process_holds_the_postgres_lock(postgres):
    first, second = beat.PostgresLock(postgres, key=4242), beat.PostgresLock(postgres, key=4242)
    try:
        assert first.acquire()
        assert first.still_held()
        assert not second.acquire()
        first.release()
        assert second.acquire()
        assert not first.acquire()
    finally:
        first.release()
        second.release()


def test_a_holder_whose_connection_dies_loses_the_lock_to_the_next(postgres):
    holder, waiter = beat.PostgresLock(postgres, key=4243), beat.PostgresLock(postgres, key=4243)
    try:
        assert holder.acquire()
        pid = holder._conn.info.backend_pid
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert not holder.still_held()
        assert waiter.acquire()
    finally:
        holder.release()
        waiter.release()


def test_only_one_process_holds_the_file_lock(tmp_path):
    first, second = beat.FileLock(tmp_path / "beat.lock"), beat.FileLock(tmp_path / "beat.lock")
    assert first.acquire()
    assert not second.acquire()
    first.release()
    assert second.acquire()
    second.release()


def test_sqlite_gets_the_file_lock_and_postgres_the_advisory_lock(tmp_path):
    sqlite = beat.lock_for_database({"ENGINE": "django.db.backends.sqlite3", "NAME": "x"}, tmp_path)
    assert isinstance(sqlite, beat.FileLock)
    postgres = beat.lock_for_database(
        {"ENGINE": "django.db.backends.postgresql", "NAME": "ebdb", "USER": "u", "PASSWORD": "p",
         "HOST": "rds.internal", "PORT": "5432", "OPTIONS": {"sslmode": "require"}}, tmp_path)
    assert isinstance(postgres, beat.PostgresLock)
    assert postgres.params == {"dbname": "ebdb", "user": "u", "password": "p",
                               "host": "rds.internal", "port": "5432", "sslmode": "require"}


SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_the_second_beat_waits_while_the_first_runs(tmp_path):
    held = beat.FileLock(tmp_path / "beat.lock")
    assert held.acquire()
    marker = tmp_path / "started"
    command = [sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"]
    script = (
        "import sys; from pathlib import Path; from smartlight import beat; "
        f"sys.exit(beat.run(beat.FileLock(Path({str(tmp_path / 'beat.lock')!r})), "
        f"{command!r}, poll=0.2))"
    )
    waiting = subprocess.Popen([sys.executable, "-c", script])
    try:
        time.sleep(1.5)
        assert waiting.poll() is None and not marker.exists()  # queued for the lock
        held.release()
        # It takes the lock, runs the command; the command exits 0, which ends the run.
        assert waiting.wait(timeout=20) == 1  # beat exiting at all is a failure to restart
        assert marker.exists()
    finally:
        waiting.kill()
        held.release()


def test_losing_the_lock_stops_beat(postgres):
    lock = beat.PostgresLock(postgres, key=4244)
    result: dict = {}

    def run() -> None:
        result["status"] = beat.run(lock, SLEEPER, poll=0.2)

    # signal handlers can only be installed from the main thread
    original = beat.signal.signal
    beat.signal.signal = lambda *args: None
    try:
        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 10
        while lock._conn is None and time.monotonic() < deadline:
            time.sleep(0.05)
        pid = lock._conn.info.backend_pid
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        thread.join(timeout=20)
    finally:
        beat.signal.signal = original
    assert not thread.is_alive()
    assert result["status"] == 1
