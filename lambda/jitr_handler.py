"""Just-in-time registration: activates a device certificate signed by a maker's registered CA.

AWS IoT publishes `$aws/events/certificates/registered/<caCertificateId>` when a certificate
signed by a CA registered with auto-registration connects for the first time, with
    {"certificateId", "caCertificateId", "timestamp", "certificateStatus": "PENDING_ACTIVATION",
     "awsAccountId", "certificateRegistrationTimestamp"}
and an IoT rule on that topic invokes this handler. It

1. checks the CA: registered and ACTIVE, and the certificate is one of its certificates;
2. checks the certificate is PENDING_ACTIVATION and its subject's common name is a thing name
   of the device contract (`sl-` + 12 lowercase hex);
3. creates the thing (thing type `smartlight`) unless it exists, attaches the device policy
   (`IOT_DEVICE_POLICY`) and the thing to the certificate, and only then activates the
   certificate, so a failure half way never leaves an active certificate with no policy.

A certificate that fails a check is revoked (REVOKED), so it cannot try again. The answer says
what happened: `{"activated": bool, "thing": name or None, "reason": ...}`.

Runs in AWS Lambda with nothing but boto3 (the common name is read from the DER with the
standard library); localcloud calls it in its own process. `handler(event, context, iot=...)`
takes an injected client for tests.
"""

from __future__ import annotations

import base64
import logging
import os
import re
from typing import Any

THING_RE = re.compile(r"\Asl-[0-9a-f]{12}\Z")
COMMON_NAME_OID = b"\x55\x04\x03"  # 2.5.4.3

log = logging.getLogger("jitr_handler")
log.setLevel(logging.INFO)

_client: Any = None


def _iot() -> Any:
    global _client
    if _client is None:
        import boto3

        _client = boto3.client("iot")
    return _client


def _tlv(data: bytes, index: int) -> tuple[int, bytes, int]:
    """One DER element at `index`: (tag, value, index after it)."""
    tag = data[index]
    length = data[index + 1]
    index += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[index:index + count], "big")
        index += count
    return tag, data[index:index + length], index + length


def subject_common_name(pem: str) -> str | None:
    """The subject's CN of a PEM certificate (RFC 5280 §4.1: Certificate → tbsCertificate →
    [version], serialNumber, signature, issuer, validity, subject)."""
    body = "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))
    der = base64.b64decode(body)
    _, certificate, _ = _tlv(der, 0)
    _, tbs, _ = _tlv(certificate, 0)
    fields = []
    index = 0
    while index < len(tbs):
        tag, value, index = _tlv(tbs, index)
        fields.append((tag, value))
    if fields and fields[0][0] == 0xA0:  # explicit [0] version
        fields = fields[1:]
    subject = fields[4][1]
    index = 0
    while index < len(subject):
        _, rdn, index = _tlv(subject, index)
        inner = 0
        while inner < len(rdn):
            _, attribute, inner = _tlv(rdn, inner)
            _, oid, after = _tlv(attribute, 0)
            _, value, _ = _tlv(attribute, after)
            if oid == COMMON_NAME_OID:
                return value.decode("utf-8", errors="replace")
    return None


def _certificates_of_ca(iot: Any, ca_id: str) -> set[str]:
    ids: set[str] = set()
    marker = None
    while True:
        kwargs = {"caCertificateId": ca_id, "pageSize": 250}
        if marker:
            kwargs["marker"] = marker
        page = iot.list_certificates_by_ca(**kwargs)
        ids.update(c["certificateId"] for c in page.get("certificates", []))
        marker = page.get("nextMarker")
        if not marker:
            return ids


def _refuse(iot: Any, certificate_id: str, reason: str) -> dict[str, Any]:
    log.warning("certificate %s not activated: %s", certificate_id, reason)
    try:
        iot.update_certificate(certificateId=certificate_id, newStatus="REVOKED")
    except Exception:
        log.exception("revoking %s failed", certificate_id)
    return {"activated": False, "thing": None, "reason": reason}


def handler(event: dict[str, Any], context: Any, iot: Any = None) -> dict[str, Any]:
    iot = iot or _iot()
    certificate_id = event.get("certificateId")
    ca_id = event.get("caCertificateId")
    if not isinstance(certificate_id, str) or not isinstance(ca_id, str):
        return {"activated": False, "thing": None, "reason": "not a registration event"}
    try:
        ca = iot.describe_ca_certificate(certificateId=ca_id)["certificateDescription"]
    except iot.exceptions.ResourceNotFoundException:
        return _refuse(iot, certificate_id, f"CA {ca_id} is not registered")
    if ca.get("status") != "ACTIVE":
        return _refuse(iot, certificate_id, f"CA {ca_id} is {ca.get('status')}")
    if certificate_id not in _certificates_of_ca(iot, ca_id):
        return _refuse(iot, certificate_id, f"not a certificate of CA {ca_id}")
    certificate = iot.describe_certificate(
        certificateId=certificate_id)["certificateDescription"]
    if certificate.get("status") != "PENDING_ACTIVATION":
        log.info("certificate %s is %s: nothing to do", certificate_id, certificate.get("status"))
        return {"activated": False, "thing": None,
                "reason": f"certificate is {certificate.get('status')}"}
    thing = subject_common_name(certificate["certificatePem"])
    if thing is None or not THING_RE.match(thing):
        return _refuse(iot, certificate_id, f"common name {thing!r} is not a thing name")
    arn = certificate["certificateArn"]
    try:
        iot.describe_thing(thingName=thing)
    except iot.exceptions.ResourceNotFoundException:
        iot.create_thing(thingName=thing, thingTypeName="smartlight",
                         attributePayload={"attributes": {"provisioning": "jitr"}})
    iot.attach_policy(policyName=os.environ.get("IOT_DEVICE_POLICY", "smartlight-device"),
                      target=arn)
    iot.attach_thing_principal(thingName=thing, principal=arn)
    iot.update_certificate(certificateId=certificate_id, newStatus="ACTIVE")
    log.info("activated %s for %s (CA %s)", certificate_id, thing, ca_id)
    return {"activated": True, "thing": thing, "reason": None}
