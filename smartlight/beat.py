"""Celery beat, exactly once per environment: `python -m smartlight.beat`.

Every instance of an Elastic Beanstalk environment runs the same Procfile, and instances come
and go with scaling, so "the leader runs beat" is not enough. Each instance's beat process
waits for a lock that only one process can hold (a PostgreSQL advisory lock; a file lock on
SQLite, where everything runs on one machine), runs beat while it holds it, and stops beat as
soon as it cannot prove it still holds it. Another instance takes over within POLL_SECONDS.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

log = logging.getLogger("smartlight.beat")

POLL_SECONDS = 10.0
# pg_advisory_lock takes a bigint; this one is "smartlight beat" in ASCII, truncated.
LOCK_KEY = 0x736C5F62656174


class PostgresLock:
    """A session-level advisory lock on its own connection: the server drops it when the
    connection goes, so a crashed or partitioned holder loses it without help."""

    def __init__(self, params: dict[str, Any], key: int = LOCK_KEY):
        self.params = params
        self.key = key
        self._conn: Any = None

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(autocommit=True, connect_timeout=5, **self.params)

    def acquire(self) -> bool:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = self._connect()
            row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        except Exception:
            log.warning("cannot reach the database to take the beat lock", exc_info=True)
            self._drop()
            return False
        return bool(row and row[0])

    def still_held(self) -> bool:
        try:
            row = self._conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND pid = pg_backend_pid() AND classid::bigint = %s AND objid::bigint = %s"
                " AND objsubid = 1",
                (self.key >> 32, self.key & 0xFFFFFFFF),
            ).fetchone()
        except Exception:
            log.warning("lost the database connection that holds the beat lock", exc_info=True)
            self._drop()
            return False
        return bool(row and row[0])

    def release(self) -> None:
        if self._conn is not None and not self._conn.closed:
            try:
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
            except Exception:
                log.warning("could not release the beat lock (it goes with the connection)")
        self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            # Closing a broken connection may fail again; it is gone either way.
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = None


class FileLock:
    """flock on a file: for SQLite, where every process shares one machine."""

    def __init__(self, path: Path):
        self.path = path
        self._file: IO[str] | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def still_held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def lock_for_database(database: dict[str, Any], state_dir: Path) -> PostgresLock | FileLock:
    if database["ENGINE"] == "django.db.backends.postgresql":
        params = {
            "dbname": database["NAME"],
            "user": database.get("USER") or None,
            "password": database.get("PASSWORD") or None,
            "host": database.get("HOST") or None,
            "port": database.get("PORT") or None,
        }
        params.update(database.get("OPTIONS", {}))
        return PostgresLock({k: v for k, v in params.items() if v is not None})
    return FileLock(state_dir / "beat.lock")


def run(lock: PostgresLock | FileLock, command: list[str], poll: float = POLL_SECONDS) -> int:
    """Wait for the lock, run `command` while holding it; returns when told to stop (0), when
    the command exits (its status) or when the lock is lost (1: the process manager restarts
    us and we queue for the lock again)."""
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping and not lock.acquire():
        log.info("another process runs beat; waiting for the lock")
        _sleep(poll, lambda: stopping)
    if stopping:
        return 0
    log.info("holding the beat lock; starting beat")
    child = subprocess.Popen(command)  # noqa: S603 - a fixed command line, no shell
    try:
        while not stopping:
            _sleep(poll, lambda: stopping or child.poll() is not None)
            if child.poll() is not None:
                log.error("beat exited with status %s", child.returncode)
                return child.returncode or 1
            if not lock.still_held():
                log.error("lost the beat lock; stopping beat")
                return 1
        return 0
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        lock.release()


def _sleep(seconds: float, done: Any) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not done():
        time.sleep(0.2)


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartlight.settings")
    import django
    from django.conf import settings

    django.setup()
    state_dir = Path(os.environ.get("BEAT_STATE_DIR", "/tmp"))  # noqa: S108 - per instance
    lock = lock_for_database(settings.DATABASES["default"], state_dir)
    command = [
        sys.executable, "-m", "celery", "-A", "smartlight", "beat", "--loglevel", "INFO",
        "--schedule", str(state_dir / "celerybeat-schedule"),
    ]
    return run(lock, command)


if __name__ == "__main__":
    sys.exit(main())
