"""Provisioning templates: intrinsic functions, parameters, and checks made before anything is
written (against moto's registry in-process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localcloud import templates
from localcloud.templates import ProvisioningError

FLEET = json.loads((Path(__file__).resolve().parents[2] / "deploy" / "fleet-template.json")
                   .read_text().replace("${DevicePolicyName}", "smartlight-device"))


@pytest.fixture
def backend():
    from moto import mock_aws
    from moto.iot.models import iot_backends

    with mock_aws():
        backend = iot_backends["123456789012"]["us-east-1"]
        backend.create_thing_type("smartlight", {})
        backend.create_policy("smartlight-device", json.dumps({"Statement": []}))
        yield backend


@pytest.fixture
def certificate(backend):
    certificate, _keys = backend.create_keys_and_certificate(set_as_active=False)
    return certificate


def test_intrinsic_functions_resolve():
    params = {"Serial": "0123456789ab", "Name": "a,b,c"}

    assert templates.resolve({"Fn::Join": ["", ["sl-", {"Ref": "Serial"}]]}, params) == (
        "sl-0123456789ab")
    assert templates.resolve({"Fn::Sub": "sl-${Serial}"}, params) == "sl-0123456789ab"
    assert templates.resolve({"Fn::Select": [1, {"Fn::Split": [",", {"Ref": "Name"}]}]},
                             params) == "b"
    assert templates.resolve({"a": [{"Ref": "Serial"}]}, params) == {"a": ["0123456789ab"]}


def test_an_unresolvable_reference_is_invalid_parameters():
    with pytest.raises(ProvisioningError) as refused:
        templates.resolve({"Ref": "SerialNumber"}, {})

    assert refused.value.payload() == {
        "statusCode": 400, "errorCode": "InvalidParameters",
        "errorMessage": "Cannot resolve reference value: SerialNumber"}


def test_a_declared_parameter_must_be_given_unless_it_has_a_default():
    template = {"Parameters": {"A": {"Type": "String"},
                               "B": {"Type": "String", "Default": "b"}}}

    assert templates.parameters_for(template, {"A": "a"}) == {"A": "a", "B": "b"}
    with pytest.raises(ProvisioningError):
        templates.parameters_for(template, {})


def test_the_fleet_template_makes_the_thing_activates_and_attaches(backend, certificate):
    params = templates.parameters_for(FLEET, {
        "SerialNumber": "0123456789ab", "AWS::IoT::Certificate::Id": certificate.certificate_id})

    planned = templates.plan(FLEET, params, certificate.certificate_id, backend)
    templates.apply(backend, planned, certificate)

    thing = backend.describe_thing("sl-0123456789ab")
    assert thing.thing_type.thing_type_name == "smartlight"
    assert thing.attributes == {"serial": "0123456789ab"}
    assert certificate.status == "ACTIVE"
    assert [p.name for p in backend.list_attached_policies(certificate.arn)] == [
        "smartlight-device"]
    assert backend.list_principal_things(certificate.arn) == ["sl-0123456789ab"]


@pytest.mark.parametrize("change", [
    lambda t: t["Resources"]["policy"]["Properties"].update(PolicyName="missing"),
    lambda t: t["Resources"]["thing"]["Properties"].update(ThingTypeName="missing"),
    lambda t: t["Resources"]["thing"]["Properties"].update(ThingName="bad name!"),
    lambda t: t["Resources"]["certificate"]["Properties"].update(Status="REVOKED"),
    lambda t: t["Resources"].update(extra={"Type": "AWS::IoT::Nothing", "Properties": {}}),
])
def test_a_template_that_cannot_be_applied_writes_nothing(backend, certificate, change):
    template = json.loads(json.dumps(FLEET))
    change(template)
    params = templates.parameters_for(template, {
        "SerialNumber": "0123456789ab", "AWS::IoT::Certificate::Id": certificate.certificate_id})

    with pytest.raises(ProvisioningError) as refused:
        templates.plan(template, params, certificate.certificate_id, backend)

    assert refused.value.code == "InvalidParameters"
    assert list(backend.things.values()) == []
    assert certificate.status == "INACTIVE"


def test_a_template_naming_another_certificate_is_refused(backend, certificate):
    params = templates.parameters_for(FLEET, {
        "SerialNumber": "0123456789ab", "AWS::IoT::Certificate::Id": "f" * 64})

    with pytest.raises(ProvisioningError):
        templates.plan(FLEET, params, certificate.certificate_id, backend)


def test_certificate_parameters_come_from_the_subject(backend, certificate):
    params = templates.certificate_parameters(certificate.certificate_pem,
                                              certificate.certificate_id)

    assert params == {"AWS::IoT::Certificate::Id": certificate.certificate_id,
                      "AWS::IoT::Certificate::CommonName": "AWS IoT Certificate"}
