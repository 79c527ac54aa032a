"""The one place that builds boto3 clients.

Every AWS call in the platform goes through `client(service)`: region, per-service endpoint in
local mode, timeouts and standard retries are decided here, and tests patch only this module.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config
from django.conf import settings

# Services that localcloud serves itself; everything else is moto in server mode.
_LOCALCLOUD_SERVICES = {"iot-data"}

# A scene writes devices.actions.SHADOW_WRITERS shadows at once over one client. With
# botocore's default pool (10) the connections beyond it are dropped whenever the writers go
# idle, and every batch connects again.
MAX_POOL_CONNECTIONS = 16

_CONFIG = Config(
    connect_timeout=3,
    read_timeout=10,
    retries={"mode": "standard", "max_attempts": 4},
    max_pool_connections=MAX_POOL_CONNECTIONS,
)
# Built clients by (service, region, endpoint, mode). boto3 clients are thread-safe, building
# one is not quick (tens of ms): without the lock the writers of a first scene would each build
# their own.
_clients: dict[tuple[str, str, str | None, str], Any] = {}
_building = threading.Lock()


def endpoint_url(service: str) -> str | None:
    """The endpoint for `service`, or None to let botocore use AWS's own."""
    override = settings.AWS_ENDPOINT_OVERRIDES.get(service)
    if override:
        return override
    if service == "iot-data":
        return settings.IOT_DATA_ENDPOINT_URL or None
    if settings.AWS_MODE == "local":
        return settings.MOTO_ENDPOINT_URL
    return None


def build_client(
    service: str, region: str, url: str | None = None, mode: str = "aws"
) -> Any:
    """A client from explicit parameters, for code that runs before (or without) Django's
    settings: the settings module reading its secrets, the deploy tools. Built once per
    parameters and process, whichever threads ask at the same time."""
    key = (service, region, url, mode)
    built = _clients.get(key)
    if built is None:
        with _building:
            built = _clients.get(key)
            if built is None:
                built = _clients[key] = _new_client(*key)
    return built


def _new_client(service: str, region: str, url: str | None, mode: str) -> Any:
    kwargs: dict[str, Any] = {"region_name": region, "config": _CONFIG}
    if url:
        kwargs["endpoint_url"] = url
    if mode == "local":
        # localcloud and moto accept any credentials; never pick up a real account's by accident.
        kwargs["aws_access_key_id"] = "testing"
        kwargs["aws_secret_access_key"] = "testing"
    return boto3.session.Session().client(service, **kwargs)


def client(service: str) -> Any:
    """A boto3 client for `service`, configured for the current mode (cached per endpoint)."""
    return build_client(service, settings.AWS_REGION, endpoint_url(service), settings.AWS_MODE)


def read_secret(arn: str, region: str, url: str | None = None) -> str:
    """The current string value of a Secrets Manager secret."""
    return build_client("secretsmanager", region, url).get_secret_value(SecretId=arn)[
        "SecretString"
    ]


def reset_clients() -> None:
    """Forget cached clients (tests that switch endpoints call this)."""
    with _building:
        _clients.clear()
