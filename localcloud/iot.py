"""Identity by certificate: the IoT registry (moto's iot backend, in this process) decides who a
client of the TLS listener is and what its attached policies let it do.

moto runs inside localcloud's process (ThreadedMotoServer), so the registry the platform fills
with boto3 (`create_keys_and_certificate`, `attach_policy`, `attach_thing_principal`, ...) is
read here directly. Two changes make moto's certificates usable over TLS:

- moto signs the certificates it makes (`CreateKeysAndCertificate`,
  `CreateCertificateFromCsr`) with a throwaway key under an issuer named "Moto", so no TLS stack
  could verify them. `use_local_ca` makes moto issue them from localcloud's CA instead, as IoT
  Core issues them from Amazon's; the CSR's own public key is used for `CreateCertificateFromCsr`.
- Certificate ids are the SHA-256 of the DER certificate, as in AWS (moto's `use_valid_cert`).

The TLS listener trusts localcloud's CA and every CA certificate registered in the registry
(`RegisterCACertificate`), added as they are registered; the rest is decided at CONNECT, as IoT
Core does: the certificate must be registered and ACTIVE (and its CA, if any, ACTIVE), and the
attached policies must allow `iot:Connect` for the client id.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from localcloud import mqtt
from localcloud.broker import Principal, Refusal
from localcloud.ca import LocalCA, cert_pem, new_key
from localcloud.policy import CONNECT, PUBLISH, RECEIVE, SUBSCRIBE, Context, PolicySet

log = logging.getLogger("localcloud.iot")


def use_local_ca(ca: LocalCA) -> None:
    """Make moto (in this process) issue IoT certificates from `ca`, with AWS's ids."""
    from moto.core.config import default_user_config
    from moto.iot import responses
    from moto.iot.models import IoTBackend

    default_user_config.setdefault("iot", {})["use_valid_cert"] = True

    def generate_certificate_pem(self: Any, domain_name: str, subject: x509.Name,
                                 key: Any = None) -> str:
        key = key or new_key()
        return cert_pem(ca.issue(subject, key.public_key()))

    def create_certificate_from_csr(self: Any, csr: str, set_as_active: bool) -> Any:
        request = x509.load_pem_x509_csr(csr.encode())
        pem = cert_pem(ca.issue(request.subject, request.public_key()))
        return self.register_certificate(pem, ca_certificate_pem=None,
                                         set_as_active=set_as_active, status="INACTIVE")

    IoTBackend._generate_certificate_pem = generate_certificate_pem  # type: ignore[method-assign]
    IoTBackend.create_certificate_from_csr = create_certificate_from_csr  # type: ignore[method-assign]

    # moto drops allowAutoRegistration / newAutoRegistrationStatus; JITP and JITR need them.
    original_register = responses.IoTResponse.register_ca_certificate
    original_update = responses.IoTResponse.update_ca_certificate

    def register_ca_certificate(self: Any) -> Any:
        result = original_register(self)
        ca_pem = self._get_param("caCertificate")
        for certificate in self.iot_backend.ca_certificates.values():
            if certificate.certificate_pem == ca_pem:
                certificate.auto_registration = bool(self._get_bool_param("allowAutoRegistration"))
        return result

    def update_ca_certificate(self: Any) -> Any:
        result = original_update(self)
        status = self._get_param("newAutoRegistrationStatus")
        certificate = self.iot_backend.ca_certificates.get(self.path.split("/")[-1])
        if certificate is not None:
            if status is not None:
                certificate.auto_registration = status == "ENABLE"
            if self._get_param("removeAutoRegistration"):
                certificate.registration_config = {}
        return result

    def list_ca_certificates(self: Any) -> Any:
        # Not implemented by moto; a command that registers a CA once needs it.
        from moto.core.responses import ActionResult

        return ActionResult({"certificates": [
            {"certificateArn": c.arn, "certificateId": c.certificate_id, "status": c.status,
             "creationDate": c.creation_date}
            for c in copied(self.iot_backend.ca_certificates.values)]})

    responses.IoTResponse.register_ca_certificate = register_ca_certificate  # type: ignore[method-assign]
    responses.IoTResponse.list_ca_certificates = list_ca_certificates  # type: ignore[attr-defined]
    responses.IoTResponse.update_ca_certificate = update_ca_certificate  # type: ignore[method-assign]


def answer_endpoint(address: str) -> None:
    """DescribeEndpoint for the data endpoints (`iot:Data-ATS`, `iot:Data`) names the TLS
    listener's host, so a bundle written from it reaches localcloud (the port is the
    listener's, not 8883)."""
    from moto.iot.models import FakeEndpoint, IoTBackend

    def describe_endpoint(self: Any, endpoint_type: str) -> Any:
        endpoint = FakeEndpoint(endpoint_type, self.region_name)
        if endpoint_type in ("iot:Data", "iot:Data-ATS"):
            endpoint.endpoint = address
        self.endpoint = endpoint
        return endpoint

    IoTBackend.describe_endpoint = describe_endpoint  # type: ignore[method-assign]


def certificate_id(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def backends() -> Iterator[Any]:
    """Every iot backend (account, region) moto has made so far."""
    from moto.iot.models import iot_backends

    for _account, regions in list(iot_backends.items()):
        yield from list(regions.values())


def copied(items: Callable[[], Any]) -> list[Any]:
    """`list(items())` of a moto dict view; moto's server thread may change the dict while it
    is copied, so try again when it does."""
    for _ in range(5):
        try:
            return list(items())
        except RuntimeError:
            continue
    return list(items())


@dataclass
class CertificatePrincipal:
    """A client of the TLS listener: what its certificate's policies allow."""

    certificate_id: str
    thing: str | None
    policies: PolicySet
    backend: Any = None
    client_id: str = ""
    service: bool = False
    strict: bool = True
    checks_receive: bool = True

    def may_publish(self, topic: str) -> bool:
        return self.policies.allows(PUBLISH, topic)

    def may_subscribe(self, topic_filter: str) -> bool:
        return self.policies.allows(SUBSCRIBE, topic_filter)

    def may_receive(self, topic: str) -> bool:
        return self.policies.allows(RECEIVE, topic)


class Registry:
    """Reads moto's iot backends."""

    def find_certificate(self, der: bytes) -> tuple[Any, Any] | None:
        """(backend, certificate) registered with this DER certificate, or None."""
        wanted = certificate_id(der)
        for backend in backends():
            certificate = backend.certificates.get(wanted)
            if certificate is not None:
                return backend, certificate
        return None

    def ca_certificates(self) -> list[tuple[Any, Any]]:
        return [(backend, ca) for backend in backends()
                for ca in copied(backend.ca_certificates.values)]

    def issuing_ca(self, certificate: x509.Certificate) -> tuple[Any, Any] | None:
        """The registered CA certificate that signed `certificate` (ACTIVE ones first)."""
        found = []
        for backend, ca in self.ca_certificates():
            try:
                ca_cert = x509.load_pem_x509_certificate(ca.certificate_pem.encode())
                certificate.verify_directly_issued_by(ca_cert)
            except (ValueError, TypeError, InvalidSignature):
                continue
            found.append((backend, ca))
        found.sort(key=lambda pair: pair[1].status != "ACTIVE")
        return found[0] if found else None

    def things_of(self, backend: Any, arn: str) -> list[Any]:
        return [thing for (principal, _name), (_p, thing)
                in copied(backend.principal_things.items) if principal == arn]

    def policy_documents(self, backend: Any, arn: str) -> list[Any]:
        return [policy.document for (principal, _name), (_p, policy)
                in copied(backend.principal_policies.items) if principal == arn]

    def principal(self, backend: Any, certificate: Any, client_id: str) -> PolicySet:
        thing = next((t for t in self.things_of(backend, certificate.arn)
                      if t.thing_name == client_id), None)
        context = Context(
            client_id=client_id,
            certificate_id=certificate.certificate_id,
            thing_name=thing.thing_name if thing is not None else None,
            thing_type=thing.thing_type.thing_type_name
            if thing is not None and thing.thing_type is not None else None,
            thing_attributes=dict(thing.attributes) if thing is not None else {},
        )
        documents = self.policy_documents(backend, certificate.arn)
        return PolicySet(documents, context, backend.region_name, backend.account_id)


class CertificateAuthenticator:
    """The broker's Authenticator for the TLS listener.

    `on_unregistered(client_id, certificate)` is asked about certificates the registry does not
    know (just-in-time registration and provisioning); without it they are refused."""

    def __init__(self, ca: LocalCA, registry: Registry | None = None) -> None:
        self.ca = ca
        self.registry = registry or Registry()
        self.trusted: set[str] = set()
        self.on_unregistered: Callable[[str, x509.Certificate, bytes],
                                       Principal | Refusal] | None = None

    def before_handshake(self, context: Any) -> None:
        for backend in backends():
            for ca in copied(backend.ca_certificates.values):
                if ca.certificate_id not in self.trusted:
                    try:
                        context.load_verify_locations(cadata=ca.certificate_pem)
                    except Exception as error:  # noqa: BLE001 (a bad PEM must not stop the listener)
                        log.warning("CA certificate %s cannot be trusted: %s",
                                    ca.certificate_id, error)
                    self.trusted.add(ca.certificate_id)

    def authenticate(self, client_id: str, certificate: bytes) -> Principal | Refusal:
        found = self.registry.find_certificate(certificate)
        if found is None:
            parsed = x509.load_der_x509_certificate(certificate)
            if self.on_unregistered is not None:
                return self.on_unregistered(client_id, parsed, certificate)
            return Refusal(mqtt.REFUSED_NOT_AUTHORIZED,
                           f"certificate {certificate_id(certificate)} is not registered")
        backend, registered = found
        return self.authorize(backend, registered, client_id)

    def revoked(self, principal: Any) -> str | None:
        if not isinstance(principal, CertificatePrincipal) or principal.backend is None:
            return None
        registered = principal.backend.certificates.get(principal.certificate_id)
        if registered is None:
            return f"certificate {principal.certificate_id} was deleted"
        if registered.status != "ACTIVE":
            return f"certificate {principal.certificate_id} is {registered.status}"
        return None

    def authorize(self, backend: Any, registered: Any, client_id: str) -> Principal | Refusal:
        if registered.status != "ACTIVE":
            return Refusal(mqtt.REFUSED_NOT_AUTHORIZED,
                           f"certificate {registered.certificate_id} is {registered.status}")
        if registered.ca_certificate_id:
            ca = backend.ca_certificates.get(registered.ca_certificate_id)
            if ca is not None and ca.status != "ACTIVE":
                return Refusal(mqtt.REFUSED_NOT_AUTHORIZED,
                               f"CA certificate {ca.certificate_id} is {ca.status}")
        policies = self.registry.principal(backend, registered, client_id)
        if not policies.allows(CONNECT, client_id):
            return Refusal(mqtt.REFUSED_NOT_AUTHORIZED,
                           f"the policies of certificate {registered.certificate_id} do not "
                           f"allow iot:Connect as {client_id!r}")
        return CertificatePrincipal(registered.certificate_id, policies.context.thing_name,
                                    policies, backend, client_id)
