"""The deploy tests' AWS account: moto, with the Lambda package in its code bucket."""

from __future__ import annotations

import io
import zipfile

import boto3
import pytest
from moto import mock_aws

REGION = "us-east-1"


@pytest.fixture
def account():
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="smartlight-code")
        package = io.BytesIO()
        with zipfile.ZipFile(package, "w") as archive:
            for name in ("schedule_handler.py", "provisioning_hook.py", "jitr_handler.py"):
                archive.writestr(name, "def handler(event, context):\n    return None\n")
        s3.put_object(Bucket="smartlight-code", Key="lambda.zip", Body=package.getvalue())
        yield boto3.client("cloudformation", region_name=REGION)
