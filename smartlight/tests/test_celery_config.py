"""Celery's broker comes from the environment: a filesystem transport that needs no server
locally, SQS in AWS, Redis when CELERY_BROKER_URL points there (docs/decisions.md).

Each case loads the settings and the Celery app in a fresh interpreter, as a worker would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smartlight.tests.test_settings import ROOT, run_with_settings

AWS = {
    "SMARTLIGHT_AWS_MODE": "aws",
    "SECRET_KEY": "s" * 50,
    "DATABASE_URL": "postgres://u:p@db.internal:5432/lights",
    "IOT_ENDPOINT": "abc-ats.iot.eu-west-1.amazonaws.com",
    "SCHEDULE_LAMBDA_ARN": "arn:aws:lambda:eu-west-1:1:function:smartlight-schedule",
    "AWS_REGION": "eu-west-1",
}

# What the worker would use: the Celery app's broker URL, options and kombu transport.
BROKER_VIEW = (
    "django.setup();"
    "from smartlight.celery import app;"
    "conn = app.connection_for_write();"
    "print(json.dumps({'url': app.conf.broker_url,"
    " 'options': app.conf.broker_transport_options,"
    " 'transport': type(conn.transport).__module__}))"
)


def broker(**env: str) -> dict:
    result = run_with_settings(BROKER_VIEW, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def folders(base: Path) -> dict:
    return {
        "control_folder": str(base / "control"),
        "data_folder_in": str(base / "in"),
        # Producers write where the worker reads: one folder for both directions.
        "data_folder_out": str(base / "in"),
        "processed_folder": str(base / "processed"),
        "store_processed": False,
    }


def test_local_mode_uses_the_filesystem_transport_under_var():
    view = broker()
    assert view["url"] == "filesystem://localhost//"
    assert view["transport"] == "kombu.transport.filesystem"
    assert view["options"] == folders(ROOT / "var" / "celery")


def test_the_filesystem_folders_follow_celery_fs_dir_and_are_created(tmp_path):
    base = tmp_path / "queue"
    view = broker(CELERY_FS_DIR=str(base))
    assert view["options"] == folders(base)
    assert sorted(p.name for p in base.iterdir()) == ["control", "in", "processed"]


def test_a_task_message_goes_through_the_filesystem_broker_without_any_server(tmp_path):
    # The app's own connection: a task is published as a file and read back by a consumer.
    base = tmp_path / "queue"
    result = run_with_settings(
        "django.setup();"
        "from smartlight.celery import app;"
        "app.send_task('smartlight.probe', args=[41], queue='probe');"
        "print(len(os.listdir(settings.CELERY_BROKER_TRANSPORT_OPTIONS['data_folder_in'])));"
        "conn = app.connection_for_read();"
        "q = conn.SimpleQueue('probe', no_ack=True);"
        "m = q.get(timeout=5);"
        "print(json.dumps([m.headers['task'], m.payload[0]]))",
        CELERY_FS_DIR=str(base),
    )
    assert result.returncode == 0, result.stderr
    written, message = result.stdout.strip().splitlines()[-2:]
    assert int(written) == 1
    assert json.loads(message) == ["smartlight.probe", [41]]


def test_aws_mode_uses_sqs_in_the_configured_region(tmp_path):
    view = broker(CELERY_FS_DIR=str(tmp_path / "queue"), **AWS)
    assert view["url"] == "sqs://"
    assert view["transport"] == "kombu.transport.SQS"
    assert view["options"] == {"region": "eu-west-1", "queue_name_prefix": "smartlight-"}
    assert not (tmp_path / "queue").exists()


@pytest.mark.parametrize("mode", [{}, AWS], ids=["local", "aws"])
def test_a_redis_broker_url_is_used_as_given(tmp_path, mode):
    url = "redis://cache.internal:6379/2"
    view = broker(CELERY_BROKER_URL=url, CELERY_FS_DIR=str(tmp_path / "queue"), **mode)
    assert view == {"url": url, "options": {}, "transport": "kombu.transport.redis"}
    assert not (tmp_path / "queue").exists()


def test_the_stacks_queue_is_predefined_so_nothing_is_created_or_listed():
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/smartlight-prod-celery"
    view = broker(**AWS, CELERY_QUEUE_URL=url)
    assert view["url"] == "sqs://"
    assert view["options"] == {"region": "eu-west-1",
                               "predefined_queues": {"celery": {"url": url}}}
    remote = run_with_settings(
        "django.setup(); from smartlight.celery import app;"
        "print(app.conf.worker_enable_remote_control, app.conf.worker_send_task_events)",
        **AWS, CELERY_QUEUE_URL=url,
    )
    assert remote.stdout.split()[-2:] == ["False", "False"]
