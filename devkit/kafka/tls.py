"""A throwaway certificate authority and broker certificates for a secured KafkaCluster (``security="sasl_ssl"``), made
with the ``cryptography`` package: no openssl, no keytool. Kafka 4 reads PEM directly (``ssl.keystore.type=PEM`` with
the key and the certificate chain inline), and Python's ssl module reads the CA file the clients trust.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 30


@dataclass(frozen=True)
class BrokerKeys:
    """A broker's key (PKCS#8, unencrypted) and its certificate, PEM. Only its own certificate: the clients have the CA
    (KAFKA_SSL_CAFILE), and with the CA's appended Kafka 4.4 served the CA's certificate alone (its PEM chain of two
    blocks on one properties line was read as the second block only)."""

    key_pem: str
    chain_pem: str


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Skolit devkit"), x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def _cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def make_ca(folder: Path) -> None:
    """ca.key and ca.crt in ``folder`` (kept: a restarted cluster keeps its CA, so clients keep trusting it)."""
    if (folder / "ca.crt").exists() and (folder / "ca.key").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name("Skolit devkit Kafka CA")).issuer_name(_name("Skolit devkit Kafka CA"))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=VALID_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    (folder / "ca.key").write_text(_key_pem(key), encoding="utf-8")
    (folder / "ca.key").chmod(0o600)
    (folder / "ca.crt").write_text(_cert_pem(cert), encoding="utf-8")


def broker_keys(folder: Path, node_id: int) -> BrokerKeys:
    """A certificate for a broker on loopback (127.0.0.1, ::1, localhost), signed by the CA in ``folder``."""
    ca_key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate((folder / "ca.crt").read_bytes())
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    san = x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                       x509.IPAddress(ipaddress.ip_address("::1"))])
    cert = (x509.CertificateBuilder().subject_name(_name(f"kafka-node-{node_id}")).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=VALID_DAYS))
            .add_extension(san, critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return BrokerKeys(_key_pem(key), _cert_pem(cert))


def one_line(pem: str) -> str:
    """PEM as one properties-file line: Kafka's PEM parser takes the blocks with their base64 on one line, spaces between."""
    out = []
    for line in pem.strip().splitlines():
        line = line.strip()
        if line.startswith("-----"):
            out.append(f" {line} ")
        else:
            out.append(line)
    return " ".join("".join(out).split())
