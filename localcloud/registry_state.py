"""The IoT registry (moto's iot backends) and the provisioning tables kept in `--state-dir`.

moto keeps everything in memory, so without this every certificate the platform made (and every
light's bundle with it) would stop working when localcloud restarts, and every serial the
platform made would be refused by the pre-provisioning hook. Both are small: they are written
as JSON (`iot.json`, `dynamodb.json`, atomically) when they changed, checked every two seconds
and at shutdown, and loaded at start before anyone connects. Kept: thing types, things,
policies (their default version), CA certificates (status, registration config,
auto-registration), certificates (status, CA), the policy and thing attachments, and the items
of the DynamoDB tables named (the serials table and `iot_cookie`).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from localcloud.iot import backends, copied

log = logging.getLogger("localcloud.iot")


def snapshot() -> list[dict[str, Any]]:
    state = []
    for backend in backends():
        state.append({
            "account": backend.account_id,
            "region": backend.region_name,
            "thing_types": [
                {"name": t.thing_type_name, "properties": t.thing_type_properties}
                for t in copied(backend.thing_types.values)
            ],
            "things": [
                {"name": t.thing_name, "attributes": dict(t.attributes),
                 "type": t.thing_type.thing_type_name if t.thing_type else None}
                for t in copied(backend.things.values)
            ],
            "policies": [
                {"name": p.name, "document": p.document if isinstance(p.document, str)
                 else json.dumps(p.document)}
                for p in copied(backend.policies.values)
            ],
            "ca_certificates": [
                {"pem": c.certificate_pem, "status": c.status,
                 "registration_config": c.registration_config or {},
                 "auto_registration": bool(getattr(c, "auto_registration", False))}
                for c in copied(backend.ca_certificates.values)
            ],
            "certificates": [
                {"pem": c.certificate_pem, "status": c.status, "ca": c.ca_certificate_id}
                for c in copied(backend.certificates.values)
            ],
            "principal_policies": [[arn, name] for (arn, name), _ in
                                   copied(backend.principal_policies.items)],
            "principal_things": [[arn, name] for (arn, name), _ in
                                 copied(backend.principal_things.items)],
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


def table_items(dynamodb: Any, tables: list[str]) -> dict[str, list[dict[str, Any]]]:
    saved: dict[str, list[dict[str, Any]]] = {}
    for table in tables:
        items: list[dict[str, Any]] = []
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            items.extend(page["Items"])
        saved[table] = sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    return saved


class RegistryFile:
    def __init__(self, directory: Path, tables: list[str] | None = None) -> None:
        self.directory = directory
        self.path = directory / "iot.json"
        self.tables_path = directory / "dynamodb.json"
        self.tables = tables or []
        self.dynamodb: Any = None
        self._last: dict[Path, str] = {}

    def load(self) -> None:
        """The IoT registry; call before moto serves anyone."""
        if self.path.exists():
            text = self.path.read_text()
            restore(json.loads(text))
            self._last[self.path] = text
            log.info("loaded the IoT registry from %s", self.path)

    def load_tables(self, dynamodb: Any) -> None:
        """The tables' items, once the tables exist; `dynamodb` is a boto3 client of moto."""
        self.dynamodb = dynamodb
        if self.tables_path.exists():
            text = self.tables_path.read_text()
            for table, items in json.loads(text).items():
                if table in self.tables:
                    for item in items:
                        dynamodb.put_item(TableName=table, Item=item)
            self._last[self.tables_path] = text

    def save(self) -> None:
        """Write what changed since the last write."""
        self._write(self.path, json.dumps(snapshot(), sort_keys=True))
        if self.dynamodb is not None and self.tables:
            self._write(self.tables_path,
                        json.dumps(table_items(self.dynamodb, self.tables), sort_keys=True))

    def _write(self, path: Path, text: str) -> None:
        if text == self._last.get(path):
            return
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", dir=self.directory)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._last[path] = text
