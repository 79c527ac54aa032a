"""The AWS IoT side of a light's identity: things, certificates, policies and device bundles.

Everything goes through the one boto3 factory (`smartlight.aws.client`). Each step that makes
something in AWS registers how to undo it on an `Undo` stack, so a command that fails halfway
takes back what it made; `retire_thing` (removal) is safe to repeat.

The device policy is one policy for every light, written with policy variables: a certificate
may connect only as the thing it is attached to and touch only that thing's topics. In AWS the
CloudFormation stack creates it; in local mode the platform creates it when it is missing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from smartlight import aws

log = logging.getLogger(__name__)

AWS_ERRORS = (BotoCoreError, ClientError)

# The files of a device bundle (read by the simulator and the flashing tool).
CERT_FILE = "certs/certificate.pem.crt"
KEY_FILE = "certs/private.pem.key"
CA_FILE = "certs/AmazonRootCA1.pem"
CLAIM_CERT_FILE = "certs/claim.pem.crt"
CLAIM_KEY_FILE = "certs/claim.private.pem.key"

DEFAULT_PIN = 19
DEFAULT_MAX_MA = 850
DEFAULT_LED_COUNT = 150


class ProvisioningError(Exception):
    """A step could not be done; the message says which and why, for a person to read."""


def _code(exc: Exception) -> str:
    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""


# --- policies ---------------------------------------------------------------------------------
# The policy documents live once, in deploy/ (the CloudFormation stack and localcloud read the
# same files); `${TemplateName}` in the claim policy is the fleet template's name.
DEPLOY_DIR = Path(settings.BASE_DIR) / "deploy"


def device_policy_document() -> dict[str, Any]:
    """The one device policy: connect as the certificate's own thing, use its own topics."""
    return json.loads((DEPLOY_DIR / "device-policy.json").read_text())


def claim_policy_document(template: str | None = None) -> dict[str, Any]:
    """The fleet claim certificate's policy: AWS's two provisioning APIs and nothing else."""
    text = (DEPLOY_DIR / "claim-policy.json").read_text()
    return json.loads(text.replace("${TemplateName}", template or settings.FLEET_TEMPLATE_NAME))


def _ensure_policy(name: str, document: dict[str, Any]) -> None:
    iot = aws.client("iot")
    try:
        iot.get_policy(policyName=name)
    except ClientError as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise
        if settings.AWS_MODE != "local":
            raise ProvisioningError(
                f"The IoT policy {name!r} does not exist in this account; the CloudFormation "
                "stack creates it."
            ) from exc
        iot.create_policy(policyName=name, policyDocument=json.dumps(document))


def ensure_device_policy() -> None:
    _ensure_policy(settings.IOT_DEVICE_POLICY, device_policy_document())


def ensure_claim_policy() -> None:
    _ensure_policy(settings.IOT_CLAIM_POLICY, claim_policy_document())


def ensure_thing_type() -> None:
    iot = aws.client("iot")
    try:
        iot.describe_thing_type(thingTypeName=settings.IOT_THING_TYPE)
    except ClientError as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise
        if settings.AWS_MODE != "local":
            raise ProvisioningError(
                f"The thing type {settings.IOT_THING_TYPE!r} does not exist in this account; "
                "the CloudFormation stack creates it."
            ) from exc
        iot.create_thing_type(thingTypeName=settings.IOT_THING_TYPE)


def ensure_serials_table() -> None:
    """Local mode: the serials table the pre-provisioning hook reads (AWS: the stack's)."""
    ddb = aws.client("dynamodb")
    try:
        ddb.describe_table(TableName=settings.SERIALS_TABLE)
    except ClientError as exc:
        if _code(exc) != "ResourceNotFoundException" or settings.AWS_MODE != "local":
            raise
        ddb.create_table(
            TableName=settings.SERIALS_TABLE,
            KeySchema=[{"AttributeName": "serial", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "serial", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )


# --- undo -------------------------------------------------------------------------------------
class Undo:
    """What to take back if the rest fails, newest first. `commit()` keeps everything."""

    def __init__(self) -> None:
        self._steps: list[tuple[str, Callable[[], Any]]] = []

    def add(self, what: str, step: Callable[[], Any]) -> None:
        self._steps.append((what, step))

    def commit(self) -> None:
        self._steps.clear()

    def rollback(self) -> list[str]:
        """Undo every step; returns what could not be undone (for the error message)."""
        failed = []
        while self._steps:
            what, step = self._steps.pop()
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - keep undoing the rest
                log.warning("could not undo %s: %s", what, exc)
                failed.append(f"{what}: {exc}")
        return failed


@contextlib.contextmanager
def all_or_nothing() -> Iterator[Undo]:
    """Run a provisioning step by step: what the block registers on the Undo it is given is
    taken back if the block fails. AWS, file and provisioning errors come out as one
    ProvisioningError that also says what could not be undone; anything else is re-raised."""
    undo = Undo()
    try:
        yield undo
    except Exception as exc:
        left = undo.rollback()
        if not isinstance(exc, (ProvisioningError, *AWS_ERRORS, OSError)):
            raise
        message = str(exc)
        if left:
            message += " (could not undo: " + "; ".join(left) + ")"
        raise ProvisioningError(message) from exc
    undo.commit()


# --- things and certificates -----------------------------------------------------------------
@dataclass
class Credentials:
    certificate_id: str
    certificate_arn: str
    certificate_pem: str
    private_key: str


def create_thing(thing_name: str, attributes: dict[str, str], undo: Undo) -> bool:
    """Create the thing (type smartlight) or update its attributes; True if it is new."""
    iot = aws.client("iot")
    payload = {"attributes": attributes, "merge": True}
    try:
        iot.describe_thing(thingName=thing_name)
    except ClientError as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise
        iot.create_thing(thingName=thing_name, thingTypeName=settings.IOT_THING_TYPE,
                         attributePayload={"attributes": attributes})
        undo.add(f"thing {thing_name}", lambda: iot.delete_thing(thingName=thing_name))
        return True
    iot.update_thing(thingName=thing_name, thingTypeName=settings.IOT_THING_TYPE,
                     attributePayload=payload)
    return False


def _create_certificate(policy: str, undo: Undo) -> Credentials:
    iot = aws.client("iot")
    made = iot.create_keys_and_certificate(setAsActive=True)
    creds = Credentials(made["certificateId"], made["certificateArn"],
                        made["certificatePem"], made["keyPair"]["PrivateKey"])
    undo.add(f"certificate {creds.certificate_id}",
             lambda: _delete_certificate(creds.certificate_id, creds.certificate_arn))
    iot.attach_policy(policyName=policy, target=creds.certificate_arn)
    return creds


def _delete_certificate(certificate_id: str, certificate_arn: str) -> None:
    iot = aws.client("iot")
    for page in iot.get_paginator("list_attached_policies").paginate(target=certificate_arn):
        for policy in page.get("policies", []):
            iot.detach_policy(policyName=policy["policyName"], target=certificate_arn)
    iot.update_certificate(certificateId=certificate_id, newStatus="INACTIVE")
    iot.delete_certificate(certificateId=certificate_id, forceDelete=True)


def issue_device_certificate(thing_name: str, undo: Undo) -> Credentials:
    """A new active certificate with the device policy, attached to `thing_name`."""
    creds = _create_certificate(settings.IOT_DEVICE_POLICY, undo)
    iot = aws.client("iot")
    iot.attach_thing_principal(thingName=thing_name, principal=creds.certificate_arn)
    undo.add(f"attachment of {creds.certificate_id} to {thing_name}",
             lambda: iot.detach_thing_principal(thingName=thing_name,
                                                principal=creds.certificate_arn))
    return creds


def issue_claim_certificate(undo: Undo) -> Credentials:
    """A fleet claim certificate: only the claim policy, attached to no thing."""
    return _create_certificate(settings.IOT_CLAIM_POLICY, undo)


def thing_certificates(thing_name: str) -> list[str]:
    """The certificate ARNs attached to `thing_name` (none when the thing does not exist)."""
    iot = aws.client("iot")
    try:
        pages = iot.get_paginator("list_thing_principals").paginate(thingName=thing_name)
        return [p for page in pages for p in page.get("principals", []) if ":cert/" in p]
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            return []
        raise


def certificate_id_of(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def deactivate_certificate(thing_name: str, certificate_arn: str) -> None:
    """Detach it from the thing and its policies and set it INACTIVE (a REVOKED one stays)."""
    iot = aws.client("iot")
    certificate_id = certificate_id_of(certificate_arn)
    try:
        iot.detach_thing_principal(thingName=thing_name, principal=certificate_arn)
    except ClientError as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise
    try:
        status = iot.describe_certificate(
            certificateId=certificate_id)["certificateDescription"]["status"]
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            return
        raise
    for page in iot.get_paginator("list_attached_policies").paginate(target=certificate_arn):
        for policy in page.get("policies", []):
            iot.detach_policy(policyName=policy["policyName"], target=certificate_arn)
    if status == "ACTIVE":
        iot.update_certificate(certificateId=certificate_id, newStatus="INACTIVE")


def retire_thing(thing_name: str) -> None:
    """Take a removed light's identity down: certificates, shadow, thing. Safe to repeat."""
    for arn in thing_certificates(thing_name):
        deactivate_certificate(thing_name, arn)
    try:
        aws.client("iot-data").delete_thing_shadow(thingName=thing_name)
    except ClientError as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise
    try:
        aws.client("iot").delete_thing(thingName=thing_name)
    except ClientError as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise


def revoke_certificates(thing_name: str) -> list[str]:
    """Operators: mark every certificate of the thing REVOKED (it can never connect again)."""
    iot = aws.client("iot")
    revoked = []
    for arn in thing_certificates(thing_name):
        certificate_id = certificate_id_of(arn)
        iot.update_certificate(certificateId=certificate_id, newStatus="REVOKED")
        revoked.append(certificate_id)
    return revoked


def certificate_status(certificate_id: str) -> str:
    """ACTIVE, INACTIVE, REVOKED ... or "unknown" when AWS has no such certificate."""
    try:
        description = aws.client("iot").describe_certificate(certificateId=certificate_id)
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            return "unknown"
        raise
    return description["certificateDescription"]["status"]


def set_serial_status(serial: str, status: str, thing_name: str = "",
                      made_at: str = "") -> None:
    """Put the serial's item in SERIALS_TABLE (what the pre-provisioning hook reads)."""
    item = {"serial": {"S": serial}, "status": {"S": status},
            "thing": {"S": thing_name or f"sl-{serial}"}}
    if made_at:
        item["made_at"] = {"S": made_at}
        aws.client("dynamodb").put_item(TableName=settings.SERIALS_TABLE, Item=item)
        return
    aws.client("dynamodb").update_item(
        TableName=settings.SERIALS_TABLE, Key={"serial": {"S": serial}},
        UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": status}},
    )


def delete_serial(serial: str) -> None:
    aws.client("dynamodb").delete_item(TableName=settings.SERIALS_TABLE,
                                       Key={"serial": {"S": serial}})


# --- bundles ----------------------------------------------------------------------------------
_PEM_RE = re.compile(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n?", re.S)


def server_ca_pem() -> str:
    """The CA a light checks the broker against: localcloud's locally, Amazon Root CA 1 in AWS."""
    if settings.IOT_SERVER_CA_FILE:
        path = Path(settings.IOT_SERVER_CA_FILE)
        try:
            return path.read_text()
        except OSError as exc:
            raise ProvisioningError(
                f"The server CA {path} cannot be read ({exc.strerror}); in local mode localcloud "
                "writes it when it starts (IOT_SERVER_CA_FILE)."
            ) from exc
    import certifi

    bundle = Path(certifi.where()).read_text()
    marker = bundle.find('# Label: "Amazon Root CA 1"')
    match = _PEM_RE.search(bundle, marker) if marker >= 0 else None
    if match is None:
        raise ProvisioningError("Amazon Root CA 1 is missing from the certifi bundle.")
    return match.group(0)


def check_out_dir(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ProvisioningError(f"{out} already exists and is not an empty directory; "
                                "choose a new one (bundles hold private keys, nothing is "
                                "overwritten).")


def base_config(thing_name: str, led_count: int, max_ma: int) -> dict[str, Any]:
    return {
        "thing": thing_name,
        "endpoint": settings.IOT_MQTT_HOST,
        "port": settings.IOT_MQTT_PORT,
        "led_count": led_count,
        "pin": DEFAULT_PIN,
        "max_ma": max_ma,
    }


def write_bundle(out: Path, config: dict[str, Any], files: dict[str, str]) -> None:
    """Write `files` (bundle path → text) and config.json under `out`; keys are owner-only."""
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if name.endswith(".key"):
            path.chmod(0o600)
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")


def remove_dir(out: Path, existed: bool) -> None:
    """Undo a bundle: the folder goes if we made it, else only what we put in it."""
    if not out.exists():
        return
    if not existed:
        shutil.rmtree(out, ignore_errors=True)
        return
    for child in out.iterdir():
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
