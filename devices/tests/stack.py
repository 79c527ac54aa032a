"""The whole local system for integration and browser tests: localcloud (broker, shadow
service, data-plane API, SQS in moto) on ephemeral ports, simulated lights running the real
firmware in a subprocess, and the shadow-events consumer driven from the test thread.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localcloud.testing import eventually

ROOT = Path(__file__).resolve().parents[2]
# Short keepalive so "offline within 1.5 x keepalive + 2 s" stays a few seconds in tests.
KEEPALIVE_S = 4


def point_settings_at(cloud, settings) -> None:
    """Settings (pytest-django's `settings` fixture) aimed at this localcloud."""
    from smartlight import aws

    settings.AWS_MODE = "local"
    settings.IOT_DATA_ENDPOINT_URL = cloud.http_url
    settings.MOTO_ENDPOINT_URL = cloud.moto_url
    settings.AWS_ENDPOINT_OVERRIDES = {}
    settings.MQTT_URL = cloud.mqtt_url
    aws.reset_clients()


class SimLights:
    """`python -m firmware.sim` for some things, in a subprocess, output collected."""

    def __init__(self, cloud, state_dir: Path, things: dict[str, int]):
        self.cloud = cloud
        self.state_dir = state_dir
        self.things = things
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        for thing, led_count in things.items():
            folder = state_dir / thing
            folder.mkdir(parents=True, exist_ok=True)
            config = folder / "config.json"
            if not config.exists():
                config.write_text(json.dumps({
                    "thing": thing, "led_count": led_count, "pin": 19, "max_ma": 2000,
                    "keepalive_s": KEEPALIVE_S,
                }))

    def start(self, timeout: float = 20) -> SimLights:
        self.lines = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "firmware.sim", "--things", ",".join(self.things),
             "--led-counts", ",".join(str(n) for n in self.things.values()),
             "--broker", self.cloud.mqtt_url, "--state-dir", str(self.state_dir),
             "--frame-file-ms", "20"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
        eventually(lambda: "sim ready" in self.lines or self.proc.poll() is not None, timeout)
        if "sim ready" not in self.lines:
            raise AssertionError("the simulator did not start:\n" + "\n".join(self.lines))
        return self

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def kill(self) -> None:
        """A power cut: no MQTT DISCONNECT, so the broker publishes each light's Last Will."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def frame(self, thing: str) -> list[list[int]] | None:
        try:
            return json.loads((self.state_dir / thing / "frame.json").read_text())["pixels"]
        except (OSError, ValueError, KeyError):
            return None


class Consumer:
    """The shadow-events consumer, one short poll at a time, run from the test thread."""

    def __init__(self, queue: str):
        from devices.management.commands.consume_shadow_events import Consumer as Real

        self.real = Real(queue, wait_seconds=0)

    def until(self, check: Callable[[], Any], timeout: float = 10) -> Any:
        def step():
            self.real.poll_once()
            return check()

        return eventually(step, timeout, every=0.02)
