"""localcloud's own certificate authority: the local stand-in for Amazon Root CA 1 and for the
CA that signs the certificates IoT Core issues.

Kept in a directory (`ca.pem`, `ca.key`), created on first start and reused afterwards, so a
device bundle written against one run of localcloud still trusts the next. The server
certificate of the TLS listener is issued afresh at every start for the names it listens on.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = x509.Name([
    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Smart Light localcloud"),
    x509.NameAttribute(NameOID.COMMON_NAME, "localcloud Root CA"),
])
# RSA 2048 as Amazon Root CA 1 and the certificates IoT Core issues: what every TLS stack of a
# device (mbedTLS on the ESP32 included) verifies.
KEY_SIZE = 2048
CA_YEARS = 20
LEAF_YEARS = 10


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)


def key_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


class LocalCA:
    """A CA loaded from (or created in) `directory`."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.cert_path = self.directory / "ca.pem"
        self.key_path = self.directory / "ca.key"
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.cert_path.exists() and self.key_path.exists():
            self.cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
            key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
            assert isinstance(key, rsa.RSAPrivateKey)
            self.key = key
        else:
            self.key = new_key()
            now = utcnow()
            self.cert = (
                x509.CertificateBuilder()
                .subject_name(CA_NAME)
                .issuer_name(CA_NAME)
                .public_key(self.key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=365 * CA_YEARS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(
                    x509.KeyUsage(
                        digital_signature=True, key_cert_sign=True, crl_sign=True,
                        content_commitment=False, key_encipherment=False,
                        data_encipherment=False, key_agreement=False,
                        encipher_only=False, decipher_only=False,
                    ),
                    critical=True,
                )
                .add_extension(
                    x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()),
                    critical=False,
                )
                .sign(self.key, hashes.SHA256())
            )
            _write_private(self.key_path, key_pem(self.key))
            # Written last: a half-created CA (key without certificate) is created again.
            self.cert_path.write_text(cert_pem(self.cert))

    @property
    def pem(self) -> str:
        return cert_pem(self.cert)

    def issue(
        self,
        subject: x509.Name,
        public_key: CertificatePublicKeyTypes,
        *,
        server_names: list[str] | None = None,
        days: int = 365 * LEAF_YEARS,
    ) -> x509.Certificate:
        """A leaf certificate for `public_key`: a client certificate, or with `server_names`
        (DNS names or IP addresses) a server certificate."""
        now = utcnow()
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server_names else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        if server_names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([_general_name(n) for n in server_names]),
                critical=False,
            )
        return builder.sign(self.key, hashes.SHA256())

    def server_context(self, names: list[str]) -> ssl.SSLContext:
        """A TLS server context that requires a client certificate signed by this CA (more
        trusted CAs are added with `trust`). Its server certificate names `names`."""
        key = new_key()
        cert = self.issue(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]),
            key.public_key(),
            server_names=names,
        )
        server_pem = self.directory / "server.pem"
        server_key = self.directory / "server.key"
        server_pem.write_text(cert_pem(cert) + self.pem)
        _write_private(server_key, key_pem(key))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(server_pem, server_key)
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cadata=self.pem)
        return context


def server_names(host: str) -> list[str]:
    """The names the TLS listener answers to: the host it listens on, loopback, this machine."""
    names = ["localhost", "127.0.0.1", "::1"]
    if host not in ("", "0.0.0.0", "::"):  # noqa: S104 (comparison, not a bind)
        names.insert(0, host)
    hostname = socket.gethostname()
    if hostname:
        names.append(hostname)
    return list(dict.fromkeys(names))


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)
