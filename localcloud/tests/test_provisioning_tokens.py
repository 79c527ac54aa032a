"""Certificate ownership tokens expire after one hour, and a certificate whose token expired
unused is deleted (AWS IoT developer guide, "Device provisioning MQTT API"). Driven in-process
with a fake clock against moto's registry."""

from __future__ import annotations

import json

import pytest

from localcloud.broker import Broker
from localcloud.policy import Context, PolicySet
from localcloud.provisioning import FleetProvisioning, Template
from localcloud.templates import ProvisioningError

TEMPLATE = "smartlight-fleet"
TOPIC = f"$aws/provisioning-templates/{TEMPLATE}/provision/json"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def backend():
    from moto import mock_aws
    from moto.iot.models import iot_backends

    with mock_aws():
        yield iot_backends["123456789012"]["us-east-1"]


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def fleet(backend, clock):
    body = {"Parameters": {"AWS::IoT::Certificate::Id": {"Type": "String"}},
            "Resources": {"certificate": {
                "Type": "AWS::IoT::Certificate",
                "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"},
                               "Status": "ACTIVE"}}}}
    return FleetProvisioning(Broker("u", "p"), {TEMPLATE: Template(TEMPLATE, body)}, clock=clock)


@pytest.fixture
def claim(backend):
    from localcloud.iot import CertificatePrincipal

    policies = PolicySet([], Context(client_id="factory"), "us-east-1", "123456789012")
    return CertificatePrincipal("c" * 64, None, policies, backend, "factory")


def register(fleet, claim, token):
    return fleet.register_thing(claim, json.dumps({"certificateOwnershipToken": token,
                                                   "parameters": {}}).encode(), TOPIC)


def test_a_token_used_within_the_hour_activates_its_certificate(fleet, claim, backend,
                                                                  clock):
    created = fleet.create_keys_and_certificate(claim, b"", "$aws/certificates/create/json")
    clock.now += 3599

    register(fleet, claim, created["certificateOwnershipToken"])

    assert backend.certificates[created["certificateId"]].status == "ACTIVE"


def test_an_expired_token_is_refused_and_its_unused_certificate_deleted(fleet, claim, backend,
                                                                         clock):
    created = fleet.create_keys_and_certificate(claim, b"", "$aws/certificates/create/json")
    assert backend.certificates[created["certificateId"]].status == "PENDING_ACTIVATION"
    clock.now += 3601

    with pytest.raises(ProvisioningError) as refused:
        register(fleet, claim, created["certificateOwnershipToken"])

    assert refused.value.code == "InvalidCertificateOwnershipToken"
    assert created["certificateId"] not in backend.certificates
