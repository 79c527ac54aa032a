"""The IoT registry (moto's iot backends) kept in `--state-dir` across restarts.

moto keeps everything in memory, so without this every certificate the platform made (and every
light's bundle with it) would stop working when localcloud restarts. The registry is small: it
is written as JSON (`iot.json`, atomically) when it changed, checked every two seconds and at
shutdown, and loaded at start before anyone connects. Kept: thing types, things, policies
(their default version), CA certificates (status, registration config, auto-registration),
certificates (status, CA) and the policy and thing attachments.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from localcloud.iot import _snapshot, backends

log = logging.getLogger("localcloud.iot")


def snapshot() -> list[dict[str, Any]]:
    state = []
    for backend in backends():
        state.append({
            "account": backend.account_id,
            "region": backend.region_name,
            "thing_types": [
                {"name": t.thing_type_name, "properties": t.thing_type_properties}
                for t in _snapshot(backend.thing_types.values)
            ],
            "things": [
                {"name": t.thing_name, "attributes": dict(t.attributes),
                 "type": t.thing_type.thing_type_name if t.thing_type else None}
                for t in _snapshot(backend.things.values)
            ],
            "policies": [
                {"name": p.name, "document": p.document if isinstance(p.document, str)
                 else json.dumps(p.document)}
                for p in _snapshot(backend.policies.values)
            ],
            "ca_certificates": [
                {"pem": c.certificate_pem, "status": c.status,
                 "registration_config": c.registration_config or {},
                 "auto_registration": bool(getattr(c, "auto_registration", False))}
                for c in _snapshot(backend.ca_certificates.values)
            ],
            "certificates": [
                {"pem": c.certificate_pem, "status": c.status, "ca": c.ca_certificate_id}
                for c in _snapshot(backend.certificates.values)
            ],
            "principal_policies": [[arn, name] for (arn, name), _ in
                                   _snapshot(backend.principal_policies.items)],
            "principal_things": [[arn, name] for (arn, name), _ in
                                 _snapshot(backend.principal_things.items)],
        })
    return state


def restore(state: list[dict[str, Any]]) -> None:
    from moto.iot.models import FakeCertificate, iot_backends

    for saved in state:
        backend = iot_backends[saved["account"]][saved["region"]]
        for thing_type in saved["thing_types"]:
            backend.create_thing_type(thing_type["name"], thing_type["properties"])
        for thing in saved["things"]:
            backend.create_thing(thing["name"], thing["type"] or "",
                                 {"attributes": thing["attributes"]})
        for policy in saved["policies"]:
            if policy["name"] not in backend.policies:
                backend.create_policy(policy["name"], policy["document"])
        for ca in saved["ca_certificates"]:
            registered = backend.register_ca_certificate(
                ca["pem"], set_as_active=False, registration_config=ca["registration_config"])
            registered.status = ca["status"]
            registered.auto_registration = ca["auto_registration"]
        for certificate in saved["certificates"]:
            restored = FakeCertificate(certificate["pem"], certificate["status"],
                                       backend.account_id, backend.region_name,
                                       certificate["ca"])
            backend.certificates[restored.certificate_id] = restored
        for arn, name in saved["principal_policies"]:
            backend.attach_policy(name, arn)
        for arn, name in saved["principal_things"]:
            backend.attach_thing_principal(name, arn)


class RegistryFile:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "iot.json"
        self._last = ""

    def load(self) -> None:
        if self.path.exists():
            text = self.path.read_text()
            restore(json.loads(text))
            self._last = text
            log.info("loaded the IoT registry from %s", self.path)

    def save(self) -> None:
        """Write the registry if it changed since the last write."""
        text = json.dumps(snapshot(), sort_keys=True)
        if text == self._last:
            return
        fd, tmp = tempfile.mkstemp(prefix=".iot-", dir=self.directory)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._last = text
