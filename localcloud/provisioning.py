"""AWS IoT's provisioning services over MQTT, on localcloud's broker and moto's registry.

Fleet provisioning by claim (AWS IoT developer guide, "Device provisioning MQTT API"):

- `$aws/certificates/create/json` (CreateKeysAndCertificate) and
  `$aws/certificates/create-from-csr/json` (CreateCertificateFromCsr): a new certificate from the
  local CA in PENDING_ACTIVATION, and a `certificateOwnershipToken` valid for one hour. A
  certificate whose token expired before RegisterThing used it is deleted, as in AWS.
- `$aws/provisioning-templates/<template>/provision/json` (RegisterThing): checks the token, runs
  the template's pre-provisioning hook (a Lambda handler called in this process with AWS's
  event), then applies the template (thing, certificate status, policy).
- Answers go to `.../accepted` or `.../rejected` (`statusCode`, `errorCode`, `errorMessage`), and
  only to the connection that asked, as IoT Core answers on the same connection.

Just-in-time registration and provisioning, for certificates signed by a CA registered with
`RegisterCACertificate(allowAutoRegistration=True)` that connect for the first time:

- JITP (the CA has a `registrationConfig` with a `templateBody`): the certificate is registered,
  the template applied (thing, policy, ACTIVE), and the first connection is dropped; the device's
  next connection succeeds.
- JITR (no template): the certificate is registered PENDING_ACTIVATION, the first connection is
  dropped, and `$aws/events/certificates/registered/<caCertificateId>` is published; localcloud's
  rule for it invokes the JITR Lambda handler in this process.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from localcloud import mqtt, templates
from localcloud.broker import Broker, Principal, Refusal
from localcloud.iot import CertificatePrincipal, Registry
from localcloud.templates import ProvisioningError

log = logging.getLogger("localcloud.provisioning")

TOKEN_LIFETIME = 3600.0
CREATE = "$aws/certificates/create/json"
CREATE_FROM_CSR = "$aws/certificates/create-from-csr/json"
REGISTER_FILTER = "$aws/provisioning-templates/+/provision/json"
JITR_EVENTS = "$aws/events/certificates/registered/#"


def load_handler(path: Path, function: str = "handler") -> Callable[[dict[str, Any], Any], Any]:
    """A Lambda handler loaded from its file (the `lambda/` folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"localcloud_lambda_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ValueError(f"cannot load a Lambda handler from {path}")
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler = getattr(module, function)
    return handler  # type: ignore[no-any-return]


@dataclass
class Template:
    name: str
    body: dict[str, Any]
    hook: Callable[[dict[str, Any], Any], Any] | None = None
    enabled: bool = True


@dataclass
class Ownership:
    certificate_id: str
    backend: Any
    expires: float


class FleetProvisioning:
    def __init__(self, broker: Broker, templates_by_name: Mapping[str, Template],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.broker = broker
        self.templates = dict(templates_by_name)
        self.clock = clock
        self.tokens: dict[str, Ownership] = {}
        self._lock = threading.Lock()
        broker.add_listener(CREATE, self.on_create)
        broker.add_listener(CREATE_FROM_CSR, self.on_create_from_csr)
        broker.add_listener(REGISTER_FILTER, self.on_register)

    # --- plumbing -----------------------------------------------------------------------------
    def _serve(self, request_topic: str, payload: bytes,
               work: Callable[[CertificatePrincipal, bytes, str], dict[str, Any]]) -> None:
        origin = self.broker.origin
        if origin is None:
            return  # published in-process (an HTTP publish, a rule): nobody to answer
        loop = self.broker.loop
        principal = origin.identity

        def run() -> None:
            try:
                if not isinstance(principal, CertificatePrincipal):
                    raise ProvisioningError(403, "Forbidden",
                                            "provisioning requires a certificate connection")
                body = work(principal, payload, request_topic)
                suffix = "/accepted"
            except ProvisioningError as error:
                log.info("%s rejected for %s: %s", request_topic, origin.client_id,
                         error.message)
                body, suffix = error.payload(), "/rejected"
            except Exception:
                log.exception("%s failed", request_topic)
                body = ProvisioningError(500, "InternalFailure",
                                         "internal error").payload()
                suffix = "/rejected"
            data = json.dumps(body).encode()
            loop.call_soon_threadsafe(self.broker.send_to, origin, request_topic + suffix, data)

        loop.run_in_executor(None, run)

    def on_create(self, topic: str, payload: bytes) -> None:
        self._serve(topic, payload, self.create_keys_and_certificate)

    def on_create_from_csr(self, topic: str, payload: bytes) -> None:
        self._serve(topic, payload, self.create_certificate_from_csr)

    def on_register(self, topic: str, payload: bytes) -> None:
        self._serve(topic, payload, self.register_thing)

    # --- the APIs -----------------------------------------------------------------------------
    def _issue_token(self, backend: Any, certificate: Any) -> str:
        certificate.status = "PENDING_ACTIVATION"
        token = secrets.token_urlsafe(96)
        with self._lock:
            self._expire()
            self.tokens[token] = Ownership(certificate.certificate_id, backend,
                                           self.clock() + TOKEN_LIFETIME)
        return token

    def create_keys_and_certificate(self, principal: CertificatePrincipal, payload: bytes,
                                    topic: str) -> dict[str, Any]:
        backend = principal.backend
        certificate, keys = backend.create_keys_and_certificate(set_as_active=False)
        token = self._issue_token(backend, certificate)
        return {
            "certificateId": certificate.certificate_id,
            "certificatePem": certificate.certificate_pem,
            "privateKey": keys["PrivateKey"],
            "certificateOwnershipToken": token,
        }

    def create_certificate_from_csr(self, principal: CertificatePrincipal, payload: bytes,
                                    topic: str) -> dict[str, Any]:
        request = _json_object(payload)
        csr = request.get("certificateSigningRequest")
        if not isinstance(csr, str):
            raise ProvisioningError(400, "InvalidPayload",
                                    "certificateSigningRequest is required")
        try:
            x509.load_pem_x509_csr(csr.encode())
        except ValueError:
            raise ProvisioningError(400, "InvalidCertificateSigningRequest",
                                    "certificateSigningRequest is not a PEM CSR") from None
        backend = principal.backend
        certificate = backend.create_certificate_from_csr(csr, set_as_active=False)
        token = self._issue_token(backend, certificate)
        return {
            "certificateOwnershipToken": token,
            "certificateId": certificate.certificate_id,
            "certificatePem": certificate.certificate_pem,
        }

    def register_thing(self, principal: CertificatePrincipal, payload: bytes,
                       topic: str) -> dict[str, Any]:
        name = topic.split("/")[2]
        template = self.templates.get(name)
        if template is None or not template.enabled:
            raise ProvisioningError(404, "ResourceNotFound",
                                    f"provisioning template {name} does not exist")
        request = _json_object(payload)
        token = request.get("certificateOwnershipToken")
        given = request.get("parameters", {})
        if not isinstance(token, str):
            raise ProvisioningError(400, "InvalidPayload", "certificateOwnershipToken is required")
        if not isinstance(given, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in given.items()):
            raise ProvisioningError(400, "InvalidPayload",
                                    "parameters must map strings to strings")
        with self._lock:
            self._expire()
            ownership = self.tokens.get(token)
        if ownership is None:
            raise ProvisioningError(400, "InvalidCertificateOwnershipToken",
                                    "the certificate ownership token is invalid or expired")
        backend = ownership.backend
        certificate = backend.certificates.get(ownership.certificate_id)
        if certificate is None:
            raise ProvisioningError(400, "InvalidCertificateOwnershipToken",
                                    "the certificate of this token no longer exists")
        params = dict(given)
        params.update(templates.certificate_parameters(certificate.certificate_pem,
                                                       certificate.certificate_id))
        if template.hook is not None:
            params = self._run_hook(template, principal, certificate, params)
        params = templates.parameters_for(template.body, params)
        planned = templates.plan(template.body, params, certificate.certificate_id, backend)
        templates.apply(backend, planned, certificate)
        with self._lock:
            self.tokens.pop(token, None)
        return {"deviceConfiguration": planned.device_configuration,
                "thingName": planned.thing_name}

    def _run_hook(self, template: Template, principal: CertificatePrincipal, certificate: Any,
                  params: dict[str, str]) -> dict[str, str]:
        assert template.hook is not None
        backend = principal.backend
        event = {
            "claimCertificateId": principal.certificate_id,
            "certificateId": certificate.certificate_id,
            "certificatePem": certificate.certificate_pem,
            "templateArn": f"arn:aws:iot:{backend.region_name}:{backend.account_id}:"
                           f"provisioningtemplate/{template.name}",
            "clientId": principal.client_id,
            "parameters": {k: v for k, v in params.items() if not k.startswith("AWS::")},
        }
        try:
            answer = template.hook(event, None)
        except Exception:
            log.exception("pre-provisioning hook of %s failed", template.name)
            raise ProvisioningError(500, "InternalFailure",
                                    "the pre-provisioning hook failed") from None
        if not isinstance(answer, Mapping) or answer.get("allowProvisioning") is not True:
            raise ProvisioningError(403, "AccessDenied",
                                    "the pre-provisioning hook did not allow provisioning")
        overrides = answer.get("parameterOverrides") or {}
        return {**params, **{str(k): str(v) for k, v in overrides.items()}}

    def _expire(self) -> None:
        # With the lock held. AWS deletes a certificate whose token expired unused.
        now = self.clock()
        for token, ownership in list(self.tokens.items()):
            if ownership.expires <= now:
                del self.tokens[token]
                certificate = ownership.backend.certificates.get(ownership.certificate_id)
                if certificate is not None and certificate.status == "PENDING_ACTIVATION":
                    registry = Registry()
                    if not (registry.things_of(ownership.backend, certificate.arn)
                            or registry.policy_documents(ownership.backend, certificate.arn)):
                        ownership.backend.certificates.pop(ownership.certificate_id, None)


def _json_object(payload: bytes) -> dict[str, Any]:
    try:
        value = json.loads(payload or b"{}")
    except ValueError:
        raise ProvisioningError(400, "InvalidPayload", "the payload is not JSON") from None
    if not isinstance(value, dict):
        raise ProvisioningError(400, "InvalidPayload", "the payload is not a JSON object")
    return value


class JustInTime:
    """JITP and JITR for certificates the registry does not know yet (see the module doc)."""

    def __init__(self, broker: Broker, registry: Registry,
                 jitr_handler: Callable[[dict[str, Any], Any], Any] | None) -> None:
        self.broker = broker
        self.registry = registry
        self.jitr_handler = jitr_handler
        if jitr_handler is not None:
            broker.add_listener(JITR_EVENTS, self.on_registered_event)

    def __call__(self, client_id: str, certificate: x509.Certificate,
                 der: bytes) -> Principal | Refusal:
        found = self.registry.issuing_ca(certificate)
        if found is None:
            return Refusal(mqtt.REFUSED_NOT_AUTHORIZED,
                           "certificate is not registered and its CA is unknown")
        backend, ca = found
        if ca.status != "ACTIVE":
            return Refusal(mqtt.REFUSED_NOT_AUTHORIZED,
                           f"CA certificate {ca.certificate_id} is {ca.status}")
        if not getattr(ca, "auto_registration", False):
            return Refusal(mqtt.REFUSED_NOT_AUTHORIZED,
                           f"certificate is not registered and CA {ca.certificate_id} does "
                           "not allow auto-registration")
        pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
        registered = backend.register_certificate(pem, ca_certificate_pem=None,
                                                  set_as_active=False,
                                                  status="PENDING_ACTIVATION")
        registered.ca_certificate_id = ca.certificate_id
        config = getattr(ca, "registration_config", None) or {}
        body = config.get("templateBody")
        if body:
            return self._provision(backend, registered, body, ca.certificate_id)
        event = {
            "certificateId": registered.certificate_id,
            "caCertificateId": ca.certificate_id,
            "timestamp": int(time.time() * 1000),
            "awsAccountId": backend.account_id,
            "certificateRegistrationTimestamp": str(int(time.time() * 1000)),
            "certificateStatus": "PENDING_ACTIVATION",
        }
        self.broker.publish(f"$aws/events/certificates/registered/{ca.certificate_id}",
                            json.dumps(event).encode(), 1)
        log.info("JITR: registered certificate %s of CA %s (PENDING_ACTIVATION)",
                 registered.certificate_id, ca.certificate_id)
        return Refusal(None, "just-in-time registration: certificate registered, connect again")

    def _provision(self, backend: Any, registered: Any, body: str,
                   ca_id: str) -> Refusal:
        try:
            template = json.loads(body)
            params = templates.certificate_parameters(registered.certificate_pem,
                                                      registered.certificate_id)
            params = templates.parameters_for(template, params)
            planned = templates.plan(template, params, registered.certificate_id, backend)
            templates.apply(backend, planned, registered)
        except (ProvisioningError, ValueError) as error:
            log.warning("JITP with the template of CA %s failed: %s", ca_id, error)
            return Refusal(None, f"just-in-time provisioning failed: {error}")
        log.info("JITP: provisioned %s with certificate %s", planned.thing_name,
                 registered.certificate_id)
        return Refusal(None, "just-in-time provisioning: provisioned, connect again")

    def on_registered_event(self, topic: str, payload: bytes) -> None:
        handler = self.jitr_handler
        assert handler is not None
        try:
            event = json.loads(payload)
        except ValueError:
            return

        def run() -> None:
            try:
                handler(event, None)
            except Exception:
                log.exception("the JITR Lambda failed for %s", event.get("certificateId"))

        self.broker.loop.run_in_executor(None, run)
