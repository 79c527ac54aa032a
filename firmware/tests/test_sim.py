"""The simulator: real firmware modules on CPython against localcloud's broker and shadow
service, driven end to end through the AWS IoT data-plane API (boto3 iot-data)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from firmware.sim.fleet import Fleet, device_module
from localcloud.testing import LocalCloud, ThingNames, eventually, mosquitto_answers

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
new_thing = ThingNames()


@pytest.fixture(scope="module")
def cloud():
    with LocalCloud(moto=False, things=new_thing.prefix) as cloud:
        yield cloud


@pytest.fixture(scope="module")
def mosquitto_cloud():
    if not mosquitto_answers():
        pytest.skip("Mosquitto does not answer on 127.0.0.1:1883 (CI has it)")
    with LocalCloud(mqtt_url="mqtt://127.0.0.1:1883", moto=False, things=new_thing.prefix) as cloud:
        yield cloud


@pytest.fixture(params=["localcloud", pytest.param("mosquitto", marks=pytest.mark.mosquitto)])
def backend(request):
    """localcloud with its own broker, then localcloud's shadow service over Mosquitto."""
    return request.getfixturevalue("cloud" if request.param == "localcloud" else "mosquitto_cloud")


class Sim:
    """`python -m firmware.sim` in a subprocess, its output collected line by line."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "firmware.sim", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_line(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.lines:
                return
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.02)
        raise AssertionError(f"{text!r} not printed; output:\n" + "\n".join(self.lines))

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(10)
        self._reader.join(5)


def shadow(cloud, thing: str) -> dict:
    """The thing's shadow document; {"state": {}} while it does not exist yet."""
    iot = cloud.client("iot-data")
    try:
        return json.loads(iot.get_thing_shadow(thingName=thing)["payload"].read())
    except iot.exceptions.ResourceNotFoundException:
        return {"state": {}}


def reported(cloud, thing: str) -> dict:
    return shadow(cloud, thing)["state"].get("reported", {})


def set_desired(cloud, thing: str, desired: dict) -> None:
    payload = json.dumps({"state": {"desired": desired}}).encode()
    cloud.client("iot-data").update_thing_shadow(thingName=thing, payload=payload)


def frame(folder: Path) -> list[list[int]] | None:
    try:
        return json.loads((folder / "frame.json").read_text())["pixels"]
    except (OSError, ValueError, KeyError):
        return None


def test_a_desired_change_renders_and_reports_and_a_kill_fires_the_lwt(backend, tmp_path):
    cloud = backend
    thing = new_thing()
    sim = Sim(
        "--things", thing, "--led-counts", "12", "--broker", cloud.mqtt_url,
        "--state-dir", str(tmp_path),
    )  # fmt: skip
    try:
        sim.wait_line(f"sim {thing} connected")
        sim.wait_line("sim ready")
        folder = tmp_path / thing
        assert json.loads((folder / "config.json").read_text())["led_count"] == 12
        eventually(lambda: reported(cloud, thing).get("connected") is True)

        # When: the platform writes desired through the data-plane API.
        set_desired(
            cloud, thing, {"color": "#00ff00", "brightness": 255, "on": True, "transition_ms": 0}
        )

        # Then: the strip shows it and the shadow reports it, which clears the delta.
        eventually(lambda: frame(folder) == [[0, 255, 0]] * 12)
        def settled():
            state = shadow(cloud, thing)["state"]
            shown = state.get("reported", {})
            return shown.get("color") == "#00ff00" and "delta" not in state and shown

        shown = eventually(settled)
        assert shown["brightness"] == 255 and shown["led_count"] == 12
        assert shown["effects"][0] == "solid"

        # And: killing the simulator (no DISCONNECT) makes the broker publish the Last Will.
        sim.kill(signal.SIGKILL)
        eventually(lambda: reported(cloud, thing).get("connected") is False)
    finally:
        sim.kill()


def test_a_restarted_simulator_restores_its_light_and_applies_offline_changes(cloud, tmp_path):
    thing = new_thing()
    args = ("--things", thing, "--broker", cloud.mqtt_url, "--state-dir", str(tmp_path))
    sim = Sim(*args, "--led-counts", "5")
    try:
        sim.wait_line("sim ready")
        set_desired(cloud, thing, {"color": "#ff0000", "brightness": 255, "transition_ms": 0})
        eventually(lambda: frame(tmp_path / thing) == [[255, 0, 0]] * 5)
    finally:
        sim.kill(signal.SIGTERM)  # saves the state, no DISCONNECT
    saved = json.loads((tmp_path / thing / "state.json").read_text())
    assert saved["color"] == "#ff0000"
    eventually(lambda: reported(cloud, thing).get("connected") is False)

    # While the light is away the platform changes it; the restart resyncs from `get`.
    set_desired(cloud, thing, {"color": "#0000ff", "effect": "solid"})
    sim = Sim(*args, "--led-counts", "99")  # a reused folder keeps its own LED count
    try:
        sim.wait_line("sim ready")
        eventually(lambda: frame(tmp_path / thing) == [[0, 0, 255]] * 5, timeout=15)
        eventually(lambda: reported(cloud, thing).get("connected") is True)
        assert reported(cloud, thing)["color"] == "#0000ff"
    finally:
        sim.kill()


def test_identify_blinks_the_simulated_strip(cloud, tmp_path):
    thing = new_thing()
    fleet = Fleet.in_state_dir(tmp_path, things=[thing], broker=cloud.mqtt_url, led_counts=[4])
    with fleet:
        assert fleet.wait_connected(10)
        light = fleet.lights[thing]
        set_desired(cloud, thing, {"color": "#0000ff", "brightness": 255, "transition_ms": 0})
        assert light.wait_for(lambda px: px == [[0, 0, 255]] * 4)
        payload = json.dumps({"id": "6d1c", "cmd": "identify"}).encode()
        cloud.client("iot-data").publish(topic=f"smartlight/{thing}/cmd", qos=1, payload=payload)
        assert light.wait_for(lambda px: px == [[255, 255, 255]] * 4)
        assert light.wait_for(lambda px: px == [[0, 0, 0]] * 4)
        assert light.wait_for(lambda px: px == [[0, 0, 255]] * 4, timeout=5)


def test_the_reboot_command_restarts_the_light_from_its_folder(cloud, tmp_path):
    thing = new_thing()
    fleet = Fleet.in_state_dir(tmp_path, things=[thing], broker=cloud.mqtt_url, led_counts=[3])
    with fleet:
        assert fleet.wait_connected(10)
        light = fleet.lights[thing]
        set_desired(cloud, thing, {"color": "#123456", "transition_ms": 0})
        assert light.wait_for(lambda px: light.state.get("color") == "#123456")
        payload = json.dumps({"id": "r1", "cmd": "reboot"}).encode()
        cloud.client("iot-data").publish(topic=f"smartlight/{thing}/cmd", qos=1, payload=payload)
        eventually(lambda: light.restarts == 1 and light.connections >= 2)
        assert light.state["color"] == "#123456"
        assert json.loads((tmp_path / thing / "state.json").read_text())["color"] == "#123456"


def test_the_device_identity_is_enforced_for_the_simulated_light(cloud, tmp_path):
    # The broker only lets a device touch its own topics; the firmware's subscriptions and
    # publishes all pass, so the connection is still up after a full exchange.
    thing = new_thing()
    fleet = Fleet.in_state_dir(tmp_path, things=[thing], broker=cloud.mqtt_url, led_counts=[2])
    with fleet:
        assert fleet.wait_connected(10)
        set_desired(cloud, thing, {"speed": 9})
        light = fleet.lights[thing]
        eventually(lambda: light.state.get("speed") == 9)
        assert light.connected and light.connections == 1


def test_the_firmware_client_speaks_mqtt_with_a_last_will_on_cpython(cloud):
    # The device's own client over CPython asyncio: QoS 1 publish acknowledged, subscription
    # granted, and a service-credential observer sees its LWT after the socket dies.
    mqtt = device_module("mqtt")
    user, password = cloud.service_credentials
    thing = new_thing()

    async def scenario() -> list[tuple[bytes, bytes]]:
        got: list[tuple[bytes, bytes]] = []
        host, port = cloud.mqtt_host, cloud.mqtt_port
        observer = mqtt.MQTTClient("observer-fw", host, port, user, password, 30)
        observer.set_callback(lambda t, m: got.append((t, m)))
        await observer.connect()
        assert await observer.subscribe(f"smartlight/{thing}/lwt", 1) == 1
        device = mqtt.MQTTClient(thing, cloud.mqtt_host, cloud.mqtt_port, keepalive=30)
        device.set_last_will(f"smartlight/{thing}/lwt", b'{"x":1}', False, 1)
        await device.connect()
        await device.publish(f"smartlight/{thing}/hello", b"hi", qos=1)
        device.close("power cut")
        for _ in range(500):
            if got:
                break
            await asyncio.sleep(0.01)
        await observer.disconnect()
        return got

    assert asyncio.run(scenario()) == [(f"smartlight/{thing}/lwt".encode(), b'{"x":1}')]


def test_the_command_line_rejects_bad_input(tmp_path):
    cases = [
        ["--count", "2", "--state-dir", str(tmp_path)],  # no broker
        ["--things", "sl-XYZ", "--broker", "mqtt://127.0.0.1:1", "--state-dir", str(tmp_path)],
        ["--count", "1", "--broker", "http://x", "--state-dir", str(tmp_path)],
        ["--broker", "mqtt://127.0.0.1:1"],  # neither --state-dir nor --device-dir
        ["--led-counts", "ten", "--broker", "mqtt://127.0.0.1:1", "--state-dir", str(tmp_path)],
    ]
    env = dict(os.environ)
    for args in cases:
        proc = subprocess.run(
            [sys.executable, "-m", "firmware.sim", *args],
            cwd=ROOT, capture_output=True, text=True, timeout=30, env=env,
        )  # fmt: skip
        assert proc.returncode == 2, args
        assert "error:" in proc.stderr
    assert list(tmp_path.iterdir()) == []  # nothing was created


def test_device_dir_runs_one_provisioned_light(cloud, tmp_path):
    thing = new_thing()
    folder = tmp_path / "board"
    folder.mkdir()
    config = {
        "thing": thing, "endpoint": cloud.mqtt_host, "port": cloud.mqtt_port, "tls": False,
        "led_count": 6, "pin": 19, "max_ma": 500,
    }  # fmt: skip
    (folder / "config.json").write_text(json.dumps(config))
    sim = Sim("--device-dir", str(folder))
    try:
        sim.wait_line(f"sim {thing} connected")
        sim.wait_line("sim ready")
        shown = eventually(lambda: reported(cloud, thing))
        assert shown["led_count"] == 6 and shown["max_ma"] == 500
        assert json.loads((folder / "config.json").read_text()) == config  # left as provisioned
    finally:
        sim.kill()
