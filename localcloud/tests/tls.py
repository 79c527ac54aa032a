"""Helpers for the TLS listener's tests: real certificates in files, and a raw MQTT client over
TLS that reports exactly what the broker did (CONNACK code, dropped connection, TLS alert)."""

from __future__ import annotations

import contextlib
import datetime
import json
import socket
import ssl
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from localcloud import mqtt
from localcloud.cloud import DEVICE_POLICY
from localcloud.testing import LocalCloud

DROPPED = "dropped"  # the connection closed without a CONNACK
TLS_REFUSED = "tls refused"  # the TLS handshake failed


@dataclass
class Bundle:
    """A certificate and its key on disk, as a device bundle holds them."""

    cert: Path
    key: Path
    certificate_id: str | None = None
    arn: str | None = None


def write_bundle(directory: Path, name: str, cert_pem: str, key_pem: str,
                 certificate_id: str | None = None, arn: str | None = None) -> Bundle:
    directory.mkdir(parents=True, exist_ok=True)
    cert = directory / f"{name}.pem.crt"
    key = directory / f"{name}.private.pem.key"
    cert.write_text(cert_pem)
    key.write_text(key_pem)
    return Bundle(cert, key, certificate_id, arn)


def new_certificate(cloud: LocalCloud, directory: Path, name: str, *,
                    active: bool = True) -> Bundle:
    """CreateKeysAndCertificate, as the platform calls it (boto3, moto in localcloud)."""
    made = cloud.client("iot").create_keys_and_certificate(setAsActive=active)
    return write_bundle(directory, name, made["certificatePem"], made["keyPair"]["PrivateKey"],
                        made["certificateId"], made["certificateArn"])


def provision(cloud: LocalCloud, directory: Path, thing: str,
              policy: str = DEVICE_POLICY) -> Bundle:
    """Manual provisioning: thing, certificate, the one device policy, attachments."""
    iot = cloud.client("iot")
    iot.create_thing(thingName=thing, thingTypeName="smartlight")
    bundle = new_certificate(cloud, directory, thing)
    iot.attach_policy(policyName=policy, target=bundle.arn)
    iot.attach_thing_principal(thingName=thing, principal=bundle.arn)
    return bundle


def key_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


class MakerCA:
    """A device maker's own CA, signing device certificates (JITP, JITR)."""

    def __init__(self, name: str | None = None) -> None:
        # Unique names: a TLS stack looks trusted CAs up by subject name.
        name = name or f"Maker CA {uuid.uuid4().hex[:8]}"
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = pem(self.cert)

    def device(self, directory: Path, common_name: str) -> Bundle:
        """A device certificate signed by this CA; the file holds it and the CA (the chain a
        JITP/JITR device presents)."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .sign(self.key, hashes.SHA256())
        )
        return write_bundle(directory, common_name, pem(cert) + self.pem, key_pem(key))


class TlsClient:
    """MQTT 3.1.1 over TLS on a bare socket. `code` is the CONNACK return code, DROPPED or
    TLS_REFUSED."""

    def __init__(self, cloud: LocalCloud, client_id: str, bundle: Bundle, *,
                 username: str | None = None, password: str | None = None,
                 keepalive: int = 60, tls_version: ssl.TLSVersion | None = None,
                 will: tuple[str, bytes] | None = None) -> None:
        self.decoder = mqtt.Decoder()
        self.pending: list[mqtt.Packet] = []
        self.held: list[mqtt.Packet] = []
        self.packet_ids = iter(range(1, 65536))
        self.sock: ssl.SSLSocket | None = None
        raw = socket.create_connection((cloud.mqtts_host, cloud.mqtts_port), timeout=5)
        try:
            context = cloud.tls_context(bundle.cert, bundle.key)
            if tls_version is not None:
                context.maximum_version = tls_version
            self.sock = context.wrap_socket(raw, server_hostname=cloud.mqtts_host)
            will_topic, will_payload = will or (None, b"")
            self.sock.sendall(mqtt.connect(client_id, keepalive=keepalive, username=username,
                                           password=password, will_topic=will_topic,
                                           will_payload=will_payload, will_qos=1 if will else 0))
            connack = self.read()
        except ssl.SSLError:
            # TLS 1.3: the server's verdict on the client certificate arrives as an alert on
            # the first read; TLS 1.2: during the handshake.
            self.code: int | str = TLS_REFUSED
            raw.close()
            return
        except (ConnectionError, TimeoutError):
            self.code = DROPPED
            raw.close()
            return
        assert connack.kind == mqtt.CONNACK
        self.code = connack.body[1]

    def read(self, timeout: float = 5.0) -> mqtt.Packet:
        assert self.sock is not None
        self.sock.settimeout(timeout)
        while not self.pending:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.pending.extend(self.decoder.feed(data))
        return self.pending.pop(0)

    def publish(self, topic: str, payload: bytes | dict, qos: int = 1) -> None:
        assert self.sock is not None
        if isinstance(payload, dict):
            payload = json.dumps(payload).encode()
        self.sock.sendall(mqtt.publish(topic, payload, qos, 1 if qos else 0))
        while qos:
            packet = self.read()
            if packet.kind == mqtt.PUBACK:
                return
            self.held.append(packet)  # a message that arrived before the PUBACK

    def subscribe(self, topic_filter: str, qos: int = 1) -> list[int]:
        assert self.sock is not None
        packet_id = next(self.packet_ids)
        self.sock.sendall(mqtt.subscribe(packet_id, [(topic_filter, qos)]))
        suback = self.read()
        assert suback.kind == mqtt.SUBACK
        return list(suback.body[2:])

    def receive(self, timeout: float = 5.0) -> tuple[str, bytes]:
        while True:
            packet = self.held.pop(0) if self.held else self.read(timeout)
            if packet.kind == mqtt.PUBLISH:
                topic, payload, qos, packet_id, _retain = mqtt.parse_publish(packet.flags,
                                                                             packet.body)
                if qos:
                    assert self.sock is not None
                    self.sock.sendall(mqtt.puback(packet_id))
                return topic, payload

    def expect(self, topic: str, timeout: float = 5.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            got, payload = self.receive(max(0.05, deadline - time.monotonic()))
            if got == topic:
                return json.loads(payload)

    def closed_by_server(self, timeout: float = 3.0) -> bool:
        """True once the server closes the connection (anything it sends first is skipped)."""
        assert self.sock is not None
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
        except (ConnectionError, ssl.SSLError):
            return True
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.sendall(mqtt.DISCONNECT_PACKET)
            self.sock.close()
