"""AWS IoT provisioning templates (fleet provisioning and JITP), applied to moto's registry.

The subset of the template language the AWS IoT developer guide describes for provisioning
templates: `Parameters` (with `Default`), `Resources` of type `AWS::IoT::Thing`,
`AWS::IoT::Certificate` and `AWS::IoT::Policy`, the intrinsic functions `Ref`, `Fn::Join`,
`Fn::Sub` and `Fn::Split`/`Fn::Select`, `OverrideSettings` for an existing thing, and
`DeviceConfiguration`. Everything is resolved and checked before anything is written, so a
template that fails leaves no half-made thing behind.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID


class ProvisioningError(Exception):
    """A failure answered with AWS's error payload: `statusCode`, `errorCode`, `errorMessage`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def payload(self) -> dict[str, Any]:
        return {"statusCode": self.status, "errorCode": self.code, "errorMessage": self.message}


def invalid(message: str) -> ProvisioningError:
    return ProvisioningError(400, "InvalidParameters", message)


CERTIFICATE_PARAMETERS = {
    "AWS::IoT::Certificate::CommonName": NameOID.COMMON_NAME,
    "AWS::IoT::Certificate::Country": NameOID.COUNTRY_NAME,
    "AWS::IoT::Certificate::Organization": NameOID.ORGANIZATION_NAME,
    "AWS::IoT::Certificate::OrganizationalUnit": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "AWS::IoT::Certificate::DistinguishedNameQualifier": NameOID.DN_QUALIFIER,
    "AWS::IoT::Certificate::StateName": NameOID.STATE_OR_PROVINCE_NAME,
    "AWS::IoT::Certificate::Locality": NameOID.LOCALITY_NAME,
    "AWS::IoT::Certificate::SerialNumber": NameOID.SERIAL_NUMBER,
}


def certificate_parameters(pem: str, certificate_id: str) -> dict[str, str]:
    """The `AWS::IoT::Certificate::*` parameters IoT Core fills in from a certificate."""
    cert = x509.load_pem_x509_certificate(pem.encode())
    params = {"AWS::IoT::Certificate::Id": certificate_id}
    for name, oid in CERTIFICATE_PARAMETERS.items():
        values = cert.subject.get_attributes_for_oid(oid)
        if values:
            params[name] = str(values[0].value)
    return params


_SUB = re.compile(r"\$\{([^}]+)\}")


def resolve(value: Any, params: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return [resolve(v, params) for v in value]
    if not isinstance(value, Mapping):
        return value
    if len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref":
            if arg not in params:
                raise invalid(f"Cannot resolve reference value: {arg}")
            return params[arg]
        if key == "Fn::Join":
            separator, parts = arg
            return str(separator).join(str(resolve(p, params)) for p in parts)
        if key == "Fn::Sub":
            def sub(match: re.Match[str]) -> str:
                name = match.group(1)
                if name not in params:
                    raise invalid(f"Cannot resolve reference value: {name}")
                return params[name]
            return _SUB.sub(sub, resolve(arg, params))
        if key == "Fn::Split":
            separator, text = arg
            return str(resolve(text, params)).split(separator)
        if key == "Fn::Select":
            index, items = arg
            items = resolve(items, params)
            try:
                return items[int(index)]
            except (IndexError, ValueError, TypeError):
                raise invalid(f"Fn::Select index {index} is out of range") from None
    return {k: resolve(v, params) for k, v in value.items()}


@dataclass
class Plan:
    """What a template will do, fully resolved."""

    thing_name: str | None = None
    thing_type: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    overrides: dict[str, str] = field(default_factory=dict)
    certificate_status: str | None = None
    policy_names: list[str] = field(default_factory=list)
    policy_documents: list[tuple[str, str]] = field(default_factory=list)
    device_configuration: dict[str, Any] = field(default_factory=dict)


def parameters_for(template: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, str]:
    declared = template.get("Parameters", {}) or {}
    params: dict[str, str] = {}
    for name, spec in declared.items():
        if name in given:
            params[name] = str(given[name])
        elif isinstance(spec, Mapping) and "Default" in spec:
            params[name] = str(spec["Default"])
    # Parameters not declared are passed on too (AWS's own AWS::IoT::* ones are never declared
    # by some templates but still resolvable).
    for name, value in given.items():
        params.setdefault(name, str(value))
    for name in declared:
        if name not in params:
            raise invalid(f"Parameter {name} is required but was not provided")
    return params


def plan(template: Mapping[str, Any], params: Mapping[str, str], certificate_id: str,
         backend: Any) -> Plan:
    result = Plan(device_configuration=dict(template.get("DeviceConfiguration", {}) or {}))
    resources = template.get("Resources", {}) or {}
    for logical, resource in resources.items():
        kind = resource.get("Type")
        props = resolve(resource.get("Properties", {}) or {}, params)
        if kind == "AWS::IoT::Thing":
            name = props.get("ThingName")
            if not isinstance(name, str) or not re.fullmatch(r"[a-zA-Z0-9:_-]{1,128}", name):
                raise invalid(f"{logical}: ThingName {name!r} is not a valid thing name")
            result.thing_name = name
            result.thing_type = props.get("ThingTypeName") or None
            attributes = props.get("AttributePayload") or {}
            if not isinstance(attributes, Mapping):
                raise invalid(f"{logical}: AttributePayload must be an object")
            result.attributes = {str(k): str(v) for k, v in attributes.items()}
            result.overrides = dict(resource.get("OverrideSettings", {}) or {})
            if result.thing_type:
                known = {t.thing_type_name for t in backend.thing_types.values()}
                if result.thing_type not in known:
                    raise invalid(f"{logical}: thing type {result.thing_type} does not exist")
        elif kind == "AWS::IoT::Certificate":
            wanted = props.get("CertificateId")
            if wanted is not None and wanted != certificate_id:
                raise invalid(f"{logical}: CertificateId {wanted} is not the certificate "
                              "being provisioned")
            status = props.get("Status")
            if status is not None and status not in ("ACTIVE", "INACTIVE"):
                raise invalid(f"{logical}: Status {status!r} is not ACTIVE or INACTIVE")
            result.certificate_status = status
        elif kind == "AWS::IoT::Policy":
            if "PolicyName" in props:
                name = props["PolicyName"]
                if name not in backend.policies:
                    raise invalid(f"{logical}: policy {name} does not exist")
                result.policy_names.append(name)
            elif "PolicyDocument" in props:
                document = props["PolicyDocument"]
                text = document if isinstance(document, str) else json.dumps(document)
                result.policy_documents.append((logical, text))
            else:
                raise invalid(f"{logical}: a policy needs PolicyName or PolicyDocument")
        else:
            raise invalid(f"{logical}: resource type {kind!r} is not supported")
    return result


def apply(backend: Any, planned: Plan, certificate: Any) -> None:
    """Write what `plan` resolved to the registry (thing, attachments, certificate status)."""
    arn = certificate.arn
    if planned.thing_name is not None:
        existing = next((t for t in backend.things.values()
                         if t.thing_name == planned.thing_name), None)
        if existing is None:
            backend.create_thing(planned.thing_name, planned.thing_type or "",
                                 {"attributes": planned.attributes})
        else:
            overrides = planned.overrides
            if overrides.get("AttributePayload") == "REPLACE":
                existing.attributes = dict(planned.attributes)
            elif overrides.get("AttributePayload") == "MERGE":
                existing.attributes.update(planned.attributes)
            if overrides.get("ThingTypeName") == "REPLACE" and planned.thing_type:
                existing.thing_type = next(t for t in backend.thing_types.values()
                                           if t.thing_type_name == planned.thing_type)
        backend.attach_thing_principal(planned.thing_name, arn)
    for name in planned.policy_names:
        backend.attach_policy(name, arn)
    for logical, document in planned.policy_documents:
        name = f"{planned.thing_name or certificate.certificate_id[:16]}-{logical}"
        if name not in backend.policies:
            backend.create_policy(name, document)
        backend.attach_policy(name, arn)
    if planned.certificate_status is not None:
        backend.update_certificate(certificate.certificate_id, planned.certificate_status)
