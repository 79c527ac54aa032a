"""localcloud for tests and scripts: a whole localcloud on ephemeral loopback ports.

    from localcloud.testing import LocalCloud

    with LocalCloud() as cloud:
        cloud.mqtt_host, cloud.mqtt_port, cloud.mqtt_url   # the broker
        cloud.http_url                                      # iot-data endpoint_url
        cloud.moto_url                                      # every other AWS service
        cloud.service_credentials                           # (username, password)
        cloud.mqtts_host, cloud.mqtts_port, cloud.ca_path   # MQTT over TLS, client certificates
        cloud.client("iot-data").get_thing_shadow(thingName="sl-0123456789ab")

It runs `python -m localcloud` in a subprocess: its moto server then has its own backends, which
`moto.mock_aws` in the test process can neither see nor reset.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

from localcloud.cloud import (
    DEFAULT_SERVICE_PASSWORD,
    DEFAULT_SERVICE_USERNAME,
    REGION,
    SHADOW_EVENTS_QUEUE,
)

PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent)
START_TIMEOUT = 60.0


MOSQUITTO = ("127.0.0.1", 1883)


def mosquitto_answers() -> bool:
    """True when the Mosquitto of the CI machine answers on 127.0.0.1:1883."""
    try:
        with socket.create_connection(MOSQUITTO, timeout=0.5):
            return True
    except OSError:
        return False


class ThingNames:
    """Thing names of the device contract unique to one test session: other sessions may share
    the same Mosquitto at the same time. `prefix` matches them all (LocalCloud(things=...))."""

    def __init__(self) -> None:
        self.prefix = "sl-" + secrets.token_hex(3)
        self._numbers = itertools.count(1)

    def __call__(self) -> str:
        return f"{self.prefix}{next(self._numbers):06x}"


def eventually(fn: Any, timeout: float = 10, every: float = 0.05) -> Any:
    """Poll `fn` until it returns something truthy (returned), or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"condition not met in {timeout} s (last: {last!r})")


class Credentials(NamedTuple):
    username: str
    password: str


class LocalCloudError(RuntimeError):
    pass


class LocalCloud:
    """A localcloud subprocess on ephemeral ports; a context manager, or start()/stop()."""

    def __init__(
        self,
        *,
        mqtt_url: str | None = None,
        state_dir: str | os.PathLike[str] | None = None,
        moto: bool = True,
        things: str | None = None,
        service_credentials: tuple[str, str] = (DEFAULT_SERVICE_USERNAME,
                                                DEFAULT_SERVICE_PASSWORD),
        queue_name: str = SHADOW_EVENTS_QUEUE,
        log_level: str = "WARNING",
        host: str = "127.0.0.1",
        ca_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        """`mqtt_url`: use that broker (e.g. Mosquitto) instead of localcloud's own;
        `things`: a regex of the thing names this instance serves (needed when several
        localclouds share one external broker); `state_dir`: persist shadows there;
        `ca_dir`: the local CA's directory (default: a temporary one of its own, kept across
        restart() and removed at the end of `with` or by remove_ca())."""
        self.external_mqtt_url = mqtt_url
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.moto = moto
        self.things = things
        self.service_credentials = Credentials(*service_credentials)
        self.queue_name = queue_name
        self.log_level = log_level
        self.host = host
        self._own_ca_dir: str | None = None
        if ca_dir is None and state_dir is None:
            self._own_ca_dir = tempfile.mkdtemp(prefix="localcloud-ca-")
            ca_dir = self._own_ca_dir
        self.ca_dir = Path(ca_dir) if ca_dir is not None else None
        self.process: subprocess.Popen[str] | None = None
        self.endpoints: dict[str, str] = {}
        self._drain: threading.Thread | None = None
        self._clients: dict[Any, Any] = {}

    # --- endpoints ----------------------------------------------------------------------------
    @property
    def mqtt_url(self) -> str:
        """`mqtt://host:port` of the broker clients should use."""
        return self.endpoints["mqtt"]

    @property
    def service_mqtt_url(self) -> str:
        """`mqtt://user:password@host:port`: the broker with the service credential in it."""
        username, password = (quote(part, safe="") for part in self.service_credentials)
        return f"mqtt://{username}:{password}@{self.mqtt_host}:{self.mqtt_port}"

    @property
    def mqtt_host(self) -> str:
        return urlsplit(self.mqtt_url).hostname or self.host

    @property
    def mqtt_port(self) -> int:
        return urlsplit(self.mqtt_url).port or 1883

    @property
    def mqtts_url(self) -> str:
        """`mqtts://host:port`: MQTT over TLS, a client certificate required (IoT Core's 8883)."""
        if "mqtts" not in self.endpoints:
            raise LocalCloudError("this localcloud has no TLS listener (external broker or "
                                  "moto=False)")
        return self.endpoints["mqtts"]

    @property
    def mqtts_host(self) -> str:
        return urlsplit(self.mqtts_url).hostname or self.host

    @property
    def mqtts_port(self) -> int:
        return urlsplit(self.mqtts_url).port or 8883

    @property
    def ca_path(self) -> Path:
        """The local CA's certificate (PEM): what a device trusts as AmazonRootCA1.pem."""
        if "ca" not in self.endpoints:
            raise LocalCloudError("this localcloud has no TLS listener")
        return Path(self.endpoints["ca"])

    def tls_context(self, certfile: str | os.PathLike[str],
                    keyfile: str | os.PathLike[str]) -> ssl.SSLContext:
        """A client TLS context for the TLS listener: trusts the local CA, presents the
        certificate (PEM, optionally followed by its CA chain) and its key."""
        context = ssl.create_default_context(cafile=str(self.ca_path))
        context.load_cert_chain(certfile, keyfile)
        return context

    @property
    def http_url(self) -> str:
        """The IoT data-plane endpoint (`endpoint_url` of boto3's `iot-data`)."""
        return self.endpoints["http"]

    @property
    def moto_url(self) -> str:
        if "moto" not in self.endpoints:
            raise LocalCloudError("this localcloud was started with moto=False")
        return self.endpoints["moto"]

    def env(self) -> dict[str, str]:
        """Environment variables that point the platform's settings at this localcloud."""
        env = {
            "MQTT_URL": self.mqtt_url,
            "IOT_DATA_ENDPOINT_URL": self.http_url,
            "LOCALCLOUD_SERVICE_USERNAME": self.service_credentials.username,
            "LOCALCLOUD_SERVICE_PASSWORD": self.service_credentials.password,
        }
        if "moto" in self.endpoints:
            env["MOTO_ENDPOINT_URL"] = self.moto_url
        if "mqtts" in self.endpoints:
            env["LOCALCLOUD_MQTTS_URL"] = self.mqtts_url
            env["LOCALCLOUD_CA_PATH"] = str(self.ca_path)
        return env

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for `service` against this localcloud (iot-data or moto), cached."""
        import boto3

        endpoint = self.http_url if service == "iot-data" else self.moto_url
        kwargs.setdefault("region_name", REGION)
        kwargs.setdefault("aws_access_key_id", "testing")
        kwargs.setdefault("aws_secret_access_key", "testing")
        key = (service, endpoint, tuple(sorted((k, repr(v)) for k, v in kwargs.items())))
        if key not in self._clients:
            self._clients[key] = boto3.session.Session().client(
                service, endpoint_url=endpoint, **kwargs)
        return self._clients[key]

    # --- lifecycle ----------------------------------------------------------------------------
    def command(self) -> list[str]:
        command = [
            sys.executable, "-m", "localcloud",
            "--host", self.host, "--mqtt-port", "0", "--http-port", "0", "--moto-port", "0",
            "--mqtts-port", "0",
            "--service-username", self.service_credentials.username,
            "--service-password", self.service_credentials.password,
            "--queue-name", self.queue_name, "--log-level", self.log_level,
        ]
        if self.external_mqtt_url:
            command += ["--mqtt-url", self.external_mqtt_url]
        if self.state_dir is not None:
            command += ["--state-dir", str(self.state_dir)]
        if self.ca_dir is not None:
            command += ["--ca-dir", str(self.ca_dir)]
        if self.things:
            command += ["--things", self.things]
        if not self.moto:
            command.append("--no-moto")
        return command

    def start(self) -> LocalCloud:
        if self.process is not None:
            raise LocalCloudError("already started")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_PARENT,
                                                           env.get("PYTHONPATH")]))
        # The command is this interpreter running our own package, never outside input.
        self.process = subprocess.Popen(  # noqa: S603
            self.command(), stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env,
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        self.endpoints = {}
        self._clients = {}
        while True:
            line = self.process.stdout.readline()
            if not line:
                code = self.process.wait()
                self.process = None
                raise LocalCloudError(f"localcloud exited with {code} before it was ready")
            line = line.strip()
            if line == "localcloud ready":
                break
            name, _, url = line.partition(" ")
            self.endpoints[name] = url.split(" ")[0]
            if time.monotonic() > deadline:
                self.stop()
                raise LocalCloudError("localcloud did not become ready in time")
        # Keep reading stdout so the child never blocks on a full pipe.
        self._drain = threading.Thread(target=self._drain_stdout, daemon=True)
        self._drain.start()
        return self

    def _drain_stdout(self) -> None:
        process = self.process
        if process is not None and process.stdout is not None:
            for _ in process.stdout:
                pass

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait (SIGKILL after `timeout`); returns the exit code."""
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()
        return process.returncode

    def restart(self) -> LocalCloud:
        """Stop and start again (new ports; shadows survive only with `state_dir`)."""
        self.stop()
        return self.start()

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        self.remove_ca()

    def remove_ca(self) -> None:
        """Remove the CA directory this object made itself (at the end of `with`)."""
        if self._own_ca_dir is not None:
            shutil.rmtree(self._own_ca_dir, ignore_errors=True)
            self._own_ca_dir = None
