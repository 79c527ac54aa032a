"""Register a light maker's CA with AWS IoT, for just-in-time provisioning or registration.

    python manage.py register_maker_ca --ca-cert maker-ca.pem --ca-key maker-ca.key --method jitp
    python manage.py register_maker_ca --ca-cert maker-ca.pem --verification-cert v.pem \
        --method jitr

The maker signs each light's certificate with its own CA; the certificate's common name is the
light's thing name (`sl-` + 12 hex). With `jitp` the CA carries the provisioning template in
`deploy/jitp-template.json` (thing from the common name, the one device policy, ACTIVE): the
light's first connection provisions it and is dropped, the next one succeeds. With `jitr` the
first connection registers the certificate PENDING_ACTIVATION and `lambda/jitr_handler.py`
(subscribed to `$aws/events/certificates/registered/<caCertificateId>`) activates it.

AWS wants proof of possession of the CA's key: a verification certificate signed by the CA
whose common name is the account's registration code. Give the CA's key (--ca-key: used here to
sign one, never stored) or a verification certificate made elsewhere (--verification-cert).
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devices import provisioning
from smartlight import aws

JITP_TEMPLATE = provisioning.DEPLOY_DIR / "jitp-template.json"


def jitp_template_body() -> str:
    text = JITP_TEMPLATE.read_text().replace("${DevicePolicyName}", settings.IOT_DEVICE_POLICY)
    return json.dumps(json.loads(text), separators=(",", ":"))


def verification_certificate(ca_cert: x509.Certificate, ca_key, code: str) -> str:
    """A certificate whose subject CN is the registration code, signed by the CA's key."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, code)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CommandError(f"{what}: cannot read {path} ({exc.strerror}).") from exc


class Command(BaseCommand):
    help = "Register a maker's CA for just-in-time provisioning (jitp) or registration (jitr)."

    def add_arguments(self, parser):
        parser.add_argument("--ca-cert", type=Path, required=True, help="the CA certificate (PEM)")
        proof = parser.add_mutually_exclusive_group(required=True)
        proof.add_argument("--ca-key", type=Path, help="the CA's private key (PEM), to sign "
                                                       "the verification certificate")
        proof.add_argument("--verification-cert", type=Path,
                           help="a verification certificate made with the registration code")
        parser.add_argument("--method", choices=["jitp", "jitr"], required=True)
        parser.add_argument("--role-arn", default="",
                            help="jitp: the role AWS IoT assumes to provision (needs "
                                 "AWSIoTThingsRegistration); default in local mode: a stand-in")

    def handle(self, *args, ca_cert: Path, ca_key: Path | None,
               verification_cert: Path | None, method: str, role_arn: str, **options):
        ca_pem = _read(ca_cert, "--ca-cert")
        try:
            ca = x509.load_pem_x509_certificate(ca_pem)
        except ValueError as exc:
            raise CommandError("--ca-cert: not a PEM certificate.") from exc
        try:
            is_ca = ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            raise CommandError("--ca-cert: this certificate is not a CA (basicConstraints CA "
                               "is not set).")
        if method == "jitp" and not role_arn:
            if settings.AWS_MODE != "local":
                raise CommandError("--role-arn: JITP needs the role AWS IoT provisions with.")
            role_arn = "arn:aws:iam::123456789012:role/smartlight-jitp"
        iot = aws.client("iot")
        try:
            if ca_key is not None:
                try:
                    key = serialization.load_pem_private_key(_read(ca_key, "--ca-key"), None)
                except (ValueError, TypeError) as exc:
                    raise CommandError("--ca-key: not an unencrypted PEM private key.") from exc
                if key.public_key().public_numbers() != ca.public_key().public_numbers():
                    raise CommandError("--ca-key: this key does not belong to --ca-cert.")
                code = iot.get_registration_code()["registrationCode"]
                verification = verification_certificate(ca, key, code)
            else:
                verification = _read(verification_cert, "--verification-cert").decode()
            provisioning.ensure_device_policy()
            request = {
                "caCertificate": ca_pem.decode(),
                "verificationCertificate": verification,
                "setAsActive": True,
                "allowAutoRegistration": True,
            }
            if method == "jitp":
                request["registrationConfig"] = {"templateBody": jitp_template_body(),
                                                 "roleArn": role_arn}
            registered = iot.register_ca_certificate(**request)
        except provisioning.AWS_ERRORS as exc:
            raise CommandError(f"AWS IoT refused the CA: {exc}") from exc
        except provisioning.ProvisioningError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(
            f"CA {registered['certificateId']} registered for {method.upper()}: lights whose "
            "certificate it signs (common name = thing name) are provisioned on first connect."
        ))
