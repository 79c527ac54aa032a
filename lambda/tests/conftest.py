"""Load lambda/ handlers by path: `lambda` is a Python keyword, so it is not a package."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

LAMBDA_DIR = Path(__file__).resolve().parent.parent


def load(name: str):
    spec = importlib.util.spec_from_file_location(
        f"lambda_{name}_under_test", LAMBDA_DIR / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def schedule_handler():
    """A fresh copy of the module per test (its duplicate memory starts empty)."""
    return load("schedule_handler")


@pytest.fixture(scope="module")
def iot():
    """moto's IoT registry and iot-data for the module (building the clients is the slow
    part), with throwaway credentials: no network, no real account."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        kwargs = {
            "region_name": "us-east-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        yield boto3.client("iot", **kwargs), boto3.client("iot-data", **kwargs)


@pytest.fixture
def provisioning_hook():
    return load("provisioning_hook")


@pytest.fixture
def jitr_handler():
    return load("jitr_handler")
