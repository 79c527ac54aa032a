"""`python -m localcloud`: endpoints, clean stop on signals, --state-dir persistence."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from localcloud import __main__ as command
from localcloud.cloud import StateFile
from localcloud.shadow import ShadowStore
from localcloud.testing import PACKAGE_PARENT, LocalCloud
from localcloud.tests.conftest import new_thing


def test_the_defaults_stay_off_the_standard_ports():
    config = command.parse_args([])

    assert (config.host, config.mqtt_port, config.http_port, config.moto_port) == (
        "127.0.0.1", 18830, 18443, 15000)
    assert {config.mqtt_port, config.http_port, config.moto_port}.isdisjoint(
        {1883, 5432, 6379, 8000})


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_it_prints_each_endpoint_then_ready_and_stops_cleanly_on_a_signal(signum):
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
    process = subprocess.Popen(
        [sys.executable, "-m", "localcloud", "--mqtt-port", "0", "--http-port", "0",
         "--moto-port", "0", "--no-moto"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines = [process.stdout.readline().strip() for _ in range(3)]

    process.send_signal(signum)

    assert process.wait(10) == 0
    assert lines[0].startswith("mqtt mqtt://127.0.0.1:")
    assert lines[1].startswith("http http://127.0.0.1:")
    assert lines[2] == "localcloud ready"
    process.stdout.close()
    process.stderr.close()


def test_it_lists_moto_among_the_endpoints_and_creates_the_shadow_events_queue(cloud):
    assert cloud.moto_url.startswith("http://127.0.0.1:")

    queues = cloud.client("sqs").list_queues()["QueueUrls"]

    assert any(url.endswith("/smartlight-shadow-events") for url in queues)


def test_it_creates_the_iot_cookie_table_keyed_by_user_id(cloud):
    table = cloud.client("dynamodb").describe_table(TableName="iot_cookie")["Table"]

    assert table["KeySchema"] == [{"AttributeName": "user_id", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "user_id", "AttributeType": "S"}]


def test_moto_serves_the_other_services(cloud):
    table = f"iot_cookie_{new_thing()}"
    dynamodb = cloud.client("dynamodb")
    dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "user_id", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "user_id",
                                                 "AttributeType": "S"}])
    cloud.client("events").put_rule(Name=f"r-{table}", ScheduleExpression="rate(5 minutes)")

    pool = cloud.client("cognito-idp").create_user_pool(PoolName=table)["UserPool"]
    cloud.client("scheduler").create_schedule_group(Name=f"g-{table}")

    assert table in dynamodb.list_tables()["TableNames"]
    assert cloud.client("iot").list_things()["things"] is not None
    assert pool["Name"] == table
    assert "Functions" in cloud.client("lambda").list_functions()


def test_a_restart_with_a_state_dir_keeps_every_shadow_and_version(tmp_path):
    thing, gone = new_thing(), new_thing()
    with LocalCloud(state_dir=tmp_path, moto=False) as cloud:
        iot = cloud.client("iot-data")
        for on in (True, False, True):
            iot.update_thing_shadow(thingName=thing,
                                    payload=json.dumps({"state": {"desired": {"on": on}}}))
        iot.update_thing_shadow(thingName=thing, shadowName="ota",
                                payload=b'{"state":{"reported":{"fw":"1.2"}}}')
        iot.update_thing_shadow(thingName=gone, payload=b'{"state":{"reported":{"on":1}}}')
        iot.update_thing_shadow(thingName=gone, payload=b'{"state":{"reported":{"on":2}}}')
        iot.delete_thing_shadow(thingName=gone)
        before = json.loads(iot.get_thing_shadow(thingName=thing)["payload"].read())

        cloud.restart()

        iot = cloud.client("iot-data")
        after = json.loads(iot.get_thing_shadow(thingName=thing)["payload"].read())
        assert after["state"] == before["state"]
        assert after["metadata"] == before["metadata"]
        assert after["version"] == 3
        ota = json.loads(iot.get_thing_shadow(thingName=thing, shadowName="ota")["payload"].read())
        assert ota["state"]["reported"] == {"fw": "1.2"}
        with pytest.raises(iot.exceptions.ResourceNotFoundException):
            iot.get_thing_shadow(thingName=gone)
        recreated = json.loads(iot.update_thing_shadow(
            thingName=gone, payload=b'{"state":{"reported":{"on":3}}}')["payload"].read())
        assert recreated["version"] == 3


def test_the_state_file_is_replaced_atomically(tmp_path, monkeypatch):
    store = ShadowStore()
    state = StateFile(tmp_path, store)
    store.update("sl-000000000001", "", b'{"state":{"reported":{"on":true}}}')
    state.flush()
    saved = state.path.read_bytes()

    store.update("sl-000000000001", "", b'{"state":{"reported":{"on":false}}}')

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        state.flush()
    # The old file is intact and no temporary file is left behind.
    assert state.path.read_bytes() == saved
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == ["shadows.json"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mqtt-url", "http://127.0.0.1:1"], "not an mqtt:// URL"),
        (["--mqtt-url", "mqtt://127.0.0.1:1"], "localcloud: "),
    ],
)
def test_it_exits_with_one_clear_line_when_it_cannot_start(args, message):
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
    result = subprocess.run(
        [sys.executable, "-m", "localcloud", "--http-port", "0", "--no-moto", *args],
        capture_output=True, text=True, env=env, timeout=30)

    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert "localcloud ready" not in result.stdout


def test_it_exits_with_one_clear_line_when_its_port_is_taken():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
        result = subprocess.run(
            [sys.executable, "-m", "localcloud", "--mqtt-port", str(port), "--http-port", "0",
             "--no-moto"], capture_output=True, text=True, env=env, timeout=30)

    assert result.returncode == 1
    assert "address already in use" in result.stderr.lower()
    assert "Traceback" not in result.stderr


def test_the_package_imports_without_django():
    code = ("import sys, localcloud.testing, localcloud.cloud, localcloud.__main__; "
            "assert 'django' not in sys.modules, 'django was imported'")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = PACKAGE_PARENT

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=30)

    assert result.returncode == 0, result.stderr


def test_it_prints_the_tls_listener_and_its_ca_and_keeps_the_ca_across_runs(tmp_path):
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
    seen = []
    for _ in range(2):
        process = subprocess.Popen(
            [sys.executable, "-m", "localcloud", "--mqtt-port", "0", "--mqtts-port", "0",
             "--http-port", "0", "--moto-port", "0", "--ca-dir", str(tmp_path / "ca")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        lines = [process.stdout.readline().strip() for _ in range(6)]
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
        process.stdout.close()
        process.stderr.close()
        assert lines[0].startswith("mqtt mqtt://127.0.0.1:")
        assert lines[1].startswith("mqtts mqtts://127.0.0.1:")
        assert lines[2] == f"ca {tmp_path / 'ca' / 'ca.pem'}"
        assert lines[-1] == "localcloud ready"
        seen.append((tmp_path / "ca" / "ca.pem").read_bytes())

    assert seen[0] == seen[1]
    assert oct((tmp_path / "ca" / "ca.key").stat().st_mode & 0o777) == "0o600"
