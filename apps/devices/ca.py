"""The CSMS's own certificate authority for station certificates (OCPP 1.6 security
extension, 2.0.1): check a station's certificate signing request and issue its certificate.
Pure Python on `cryptography`; no Django (the services read the settings and store rows).

What is checked (OCPP 2.0.1 Part 2 A02 / A03, the 1.6 security whitepaper, "Certificate
properties"): the CSR parses as a PEM PKCS#10 request and its self-signature verifies (the
station holds the key); its subject's commonName is the station's identity; its subject's
organizationName is present and, when the CSMS names one, the CSMS's organisation (the CSO).
The certificate carries the CSR's subject and key, is a client certificate (not a CA) and is
valid for the configured number of days from the moment of signing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# The types a station's own certificate is requested for (SignCertificate): 1.6 has one,
# 2.0.1 names it. V2GCertificate (ISO 15118) belongs to the V2G PKI, not this CA.
STATION_CERTIFICATE_TYPES = frozenset({"ChargePointCertificate", "ChargingStationCertificate"})


class Refused(ValueError):
    """The CSR is not signed; the message says why (stored as the request's reason)."""


@dataclass(frozen=True)
class CertificateAuthority:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    chain: tuple[x509.Certificate, ...]  # the CA certificate and any intermediates above it
    validity: timedelta
    organization: str = ""  # the O a CSR must carry; empty: any non-empty O


def load(
    *,
    certificate_pem: bytes,
    key_pem: bytes,
    validity_days: int,
    organization: str = "",
    key_password: bytes | None = None,
) -> CertificateAuthority:
    """A CA from PEM: the first certificate signs, the others are sent along as the chain.
    Raises ValueError when the key does not belong to the certificate."""
    chain = tuple(x509.load_pem_x509_certificates(certificate_pem))
    key = serialization.load_pem_private_key(key_pem, password=key_password)
    if not isinstance(
        key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    ):
        raise ValueError(f"unsupported CA key type {type(key).__name__}")
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, spki) != chain[0].public_key().public_bytes(der, spki):
        raise ValueError("the CA key does not belong to the CA certificate")
    if validity_days < 1:
        raise ValueError(f"the certificate validity must be at least one day, not {validity_days}")
    return CertificateAuthority(chain[0], key, chain, timedelta(days=validity_days), organization)


def _name(subject: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = subject.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def check(
    ca: CertificateAuthority, *, csr_pem: str, identity: str, certificate_type: str
) -> x509.CertificateSigningRequest:
    """The CSR, when this CA may sign it for the station `identity`; else raises Refused."""
    if certificate_type not in STATION_CERTIFICATE_TYPES:
        raise Refused(f"{certificate_type} is not a charging station certificate")
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
    except ValueError as exc:
        raise Refused(f"the CSR is not a PEM PKCS#10 request ({exc})") from None
    if not csr.is_signature_valid:
        raise Refused("the CSR's signature does not verify")
    cn = _name(csr.subject, NameOID.COMMON_NAME)
    if cn != identity:
        raise Refused(f"the CSR's commonName is {cn!r}, not the station's identity {identity!r}")
    org = _name(csr.subject, NameOID.ORGANIZATION_NAME)
    if not org:
        raise Refused("the CSR has no organizationName (the CSO's name)")
    if ca.organization and org != ca.organization:
        raise Refused(f"the CSR's organizationName is {org!r}, not {ca.organization!r}")
    key = csr.public_key()
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
        raise Refused(f"the CSR's RSA key has {key.key_size} bits (at least 2048)")
    if isinstance(key, ed448.Ed448PublicKey):
        raise Refused("Ed448 keys are not supported")
    return csr


def issue(ca: CertificateAuthority, csr: x509.CertificateSigningRequest, *, now: datetime) -> str:
    """The station's certificate chain in PEM: its certificate, then the CA's chain."""
    ca_key_id = x509.SubjectKeyIdentifier.from_public_key(ca.certificate.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca.certificate.subject)
        .public_key(csr.public_key())
        .serial_number(secrets.randbits(63) + 1)  # positive, at most 8 bytes (RFC 5280)
        .not_valid_before(now)
        .not_valid_after(now + ca.validity)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(csr.public_key()),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_key_id),
            critical=False,
        )
    )
    algorithm = None if isinstance(ca.key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    certificate = builder.sign(ca.key, algorithm)
    return "".join(
        c.public_bytes(serialization.Encoding.PEM).decode() for c in (certificate, *ca.chain)
    )


def leaf_fingerprint(chain_pem: str) -> str:
    """SHA-256 of the first certificate of a PEM chain (the station's own), lowercase hex:
    what the gateway compares with the client certificate a station presents."""
    first = x509.load_pem_x509_certificates(chain_pem.encode())[0]
    return first.fingerprint(hashes.SHA256()).hex()
