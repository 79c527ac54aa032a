"""The pre-provisioning hook against moto's DynamoDB: it admits a serial iff the serials table
has it and it is not blocked, and refuses everything else (failing closed)."""

from __future__ import annotations

import pytest

TABLE = "smartlight-serials"
KWARGS = {"region_name": "us-east-1", "aws_access_key_id": "testing",
          "aws_secret_access_key": "testing"}


@pytest.fixture
def dynamodb(monkeypatch):
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("SERIALS_TABLE", TABLE)
    with mock_aws():
        client = boto3.client("dynamodb", **KWARGS)
        client.create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "serial", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "serial", "KeyType": "HASH"}])
        yield client


def made(dynamodb, serial, status="made"):
    dynamodb.put_item(TableName=TABLE, Item={
        "serial": {"S": serial}, "thing": {"S": f"sl-{serial}"},
        "made_at": {"S": "2026-11-29T23:00:00Z"}, "status": {"S": status}})


def event(serial):
    """AWS's pre-provisioning hook event."""
    return {
        "claimCertificateId": "c" * 64,
        "certificateId": "d" * 64,
        "certificatePem": "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n",
        "templateArn": "arn:aws:iot:us-east-1:123456789012:provisioningtemplate/smartlight-fleet",
        "clientId": "factory-1",
        "parameters": {"SerialNumber": serial},
    }


@pytest.mark.parametrize("status", ["made", "provisioned"])
def test_it_admits_a_serial_the_platform_made(provisioning_hook, dynamodb, status):
    made(dynamodb, "0123456789ab", status)

    answer = provisioning_hook.handler(event("0123456789ab"), None, dynamodb=dynamodb)

    assert answer == {"allowProvisioning": True}


def test_it_refuses_a_serial_the_platform_did_not_make(provisioning_hook, dynamodb):
    made(dynamodb, "0123456789ab")

    answer = provisioning_hook.handler(event("ba9876543210"), None, dynamodb=dynamodb)

    assert answer == {"allowProvisioning": False}


def test_it_refuses_a_blocked_serial(provisioning_hook, dynamodb):
    made(dynamodb, "0123456789ab", "blocked")

    answer = provisioning_hook.handler(event("0123456789ab"), None, dynamodb=dynamodb)

    assert answer == {"allowProvisioning": False}


@pytest.mark.parametrize("parameters", [
    {}, {"SerialNumber": ""}, {"SerialNumber": "0123456789AB"}, {"SerialNumber": "0123456789a"},
    {"SerialNumber": "0123456789ab\n"}, {"SerialNumber": 123456789012}, None,
])
def test_it_refuses_a_missing_or_malformed_serial(provisioning_hook, dynamodb, parameters):
    made(dynamodb, "0123456789ab")
    bad = event("0123456789ab")
    bad["parameters"] = parameters

    assert provisioning_hook.handler(bad, None, dynamodb=dynamodb) == {
        "allowProvisioning": False}


def test_it_refuses_when_the_table_cannot_be_read(provisioning_hook, dynamodb, monkeypatch):
    monkeypatch.setenv("SERIALS_TABLE", "no-such-table")

    answer = provisioning_hook.handler(event("0123456789ab"), None, dynamodb=dynamodb)

    assert answer == {"allowProvisioning": False}


def test_it_builds_its_own_client_from_the_lambda_environment(provisioning_hook, dynamodb,
                                                             monkeypatch):
    made(dynamodb, "0123456789ab")
    for name, value in (("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_ACCESS_KEY_ID", "testing"),
                        ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)

    assert provisioning_hook.handler(event("0123456789ab"), None) == {"allowProvisioning": True}
