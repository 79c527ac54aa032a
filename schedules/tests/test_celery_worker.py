"""Once against a real Celery worker on Redis: the push task, consumed from a real broker, writes
the EventBridge rule (moto in server mode) and clears the outbox.

Every other test runs tasks in-process (eager). Skipped when Redis does not answer on
127.0.0.1:6379.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from schedules import actions
from schedules.models import MirrorOutbox
from schedules.tests.conftest import weekly_raw
from smartlight import outbox

REDIS = ("127.0.0.1", 6379)
BASE_DIR = Path(settings.BASE_DIR)

pytestmark = pytest.mark.django_db(transaction=True)


def redis_answers() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture
def moto_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def database_env(tmp_path: Path) -> dict[str, str]:
    """Point the worker at the test database (a file copy when it lives in SQLite memory)."""
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        user = db.get("USER") or "postgres"
        auth = f"{user}:{db['PASSWORD']}" if db.get("PASSWORD") else user
        url = f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
        return {"DATABASE_URL": f"{url}/{db['NAME']}"}
    copy = tmp_path / "worker.sqlite3"
    target = sqlite3.connect(copy)
    connection.ensure_connection()
    connection.connection.backup(target)
    target.close()
    return {"DATABASE_URL": "", "SQLITE_PATH": str(copy)}


def outbox_left(env: dict[str, str], code: str) -> int:
    if env.get("SQLITE_PATH"):
        with sqlite3.connect(env["SQLITE_PATH"]) as db:
            table = MirrorOutbox._meta.db_table
            return db.execute(
                f"SELECT COUNT(*) FROM {table} WHERE code = ?",  # noqa: S608 - our table name
                (uuid.UUID(code).hex,),
            ).fetchone()[0]
    return MirrorOutbox.objects.filter(code=code).count()


def test_a_real_worker_on_redis_pushes_the_schedule(home, lamp, moto_server, tmp_path, monkeypatch):
    if not redis_answers():
        pytest.skip("Redis does not answer on 127.0.0.1:6379 (start redis-server to run this)")
    import boto3
    from celery import Celery

    # Given a schedule saved with its outbox row, but not pushed by this process,
    monkeypatch.setattr(outbox, "enqueue", lambda name, key: None)
    schedule = actions.do_create_schedule(home, actions.clean_schedule(home, weekly_raw(lamp)))
    code = str(schedule.code)
    assert MirrorOutbox.objects.filter(code=code).exists()

    queue = f"schedules-test-{uuid.uuid4().hex[:8]}"
    broker = f"redis://{REDIS[0]}:{REDIS[1]}/9"
    env = {
        **os.environ,
        **database_env(tmp_path),
        "DJANGO_SETTINGS_MODULE": "smartlight.settings",
        "SMARTLIGHT_AWS_MODE": "local",
        "CELERY_BROKER_URL": broker,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "MOTO_ENDPOINT_URL": moto_server,
        "SCHEDULE_BACKEND": "rules",
        "PYTHONPATH": str(BASE_DIR),
    }
    worker = subprocess.Popen(  # noqa: S603 - our own venv's celery
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "smartlight",
            "worker",
            "--pool",
            "solo",
            "-Q",
            queue,
            "-n",
            f"{queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "WARNING",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    drain = threading.Thread(target=lambda: output.extend(worker.stdout), daemon=True)
    drain.start()
    sender = Celery("sender", broker=broker)
    events = boto3.client(
        "events",
        endpoint_url=moto_server,
        region_name=settings.AWS_REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    try:
        # when the push task goes through Redis to the worker,
        sender.send_task("smartlight.outbox.push", args=[actions.MIRROR, code], queue=queue)
        name = f"smartlight-{code}"
        deadline = time.monotonic() + 90  # the machine is shared: be patient
        targets: list = []
        while time.monotonic() < deadline and worker.poll() is None:
            if any(r["Name"] == name for r in events.list_rules(NamePrefix=name)["Rules"]):
                targets = events.list_targets_by_rule(Rule=name)["Targets"]
                if targets and not outbox_left(env, code):
                    break
            time.sleep(0.3)
        # then the rule and its Lambda target are in EventBridge and the outbox is clear.
        if worker.poll() is not None or not targets:
            pytest.fail("the worker did not push the schedule:\n" + "".join(output))
        rule = events.describe_rule(Name=name)
        # (a one-off cron for the next weekday 07:00 Berlin: minute 0, 5 or 6 h UTC)
        assert re.fullmatch(r"cron\(0 [56] \d+ \d+ \? \d{4}\)", rule["ScheduleExpression"])
        payload = json.loads(targets[0]["Input"])
        assert payload["things"] == [lamp.thing_name]
        assert payload["desired"] == {"on": True, "brightness": 255, "transition_ms": 900000}
        assert payload["trigger"]["kind"] == "weekly"
        assert outbox_left(env, code) == 0
    finally:
        worker.terminate()
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        sender.close()
