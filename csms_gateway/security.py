"""Handshake security: which security profile a connection meets, checked against the
station's configured profile. A station is never accepted below its profile."""

from __future__ import annotations

import base64
import binascii
import hashlib
import ssl
import urllib.parse
from dataclasses import dataclass
from http import HTTPStatus

from apps.common.secrets import verify_secret
from apps.locations.contracts import ChargeStationAuth, SecurityProfile


@dataclass(frozen=True)
class Refusal:
    status: HTTPStatus
    reason: str
    challenge: bool = False  # add WWW-Authenticate: Basic


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def fingerprint_der(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def fingerprint_from_proxy_header(value: str) -> str | None:
    """The SHA-256 fingerprint of the client certificate a TLS-terminating proxy forwarded:
    a URL-encoded PEM (nginx `$ssl_client_escaped_cert`), Envoy's XFCC `Hash=<sha256>`, or a
    bare hex fingerprint."""
    value = value.strip()
    if not value:
        return None
    if "BEGIN" in value or "%2D" in value.upper():
        pem = urllib.parse.unquote(value)
        try:
            return fingerprint_der(ssl.PEM_cert_to_DER_cert(pem))
        except ValueError:
            return None
    for part in value.split(";"):
        key, _, hashed = part.partition("=")
        if key.strip().lower() == "hash":
            return hashed.strip().strip('"').lower()
    cleaned = value.replace(":", "").lower()
    return cleaned if len(cleaned) == 64 and all(c in "0123456789abcdef" for c in cleaned) else None


def normalise_fingerprint(value: str) -> str:
    return value.replace(":", "").strip().lower()


def certificate_is_next(auth: ChargeStationAuth, client_fingerprint: str | None) -> bool:
    """The station presents the client certificate issued to it and not yet pinned."""
    nxt = normalise_fingerprint(auth.client_cert_fingerprint_next)
    return bool(nxt and client_fingerprint and normalise_fingerprint(client_fingerprint) == nxt)


def check(
    auth: ChargeStationAuth,
    *,
    tls: bool,
    client_fingerprint: str | None,
    authorization: str | None,
) -> Refusal | None:
    """None when the connection meets the station's security profile, else why not."""
    if not auth.enabled:
        return Refusal(HTTPStatus.FORBIDDEN, "charge station is disabled")
    profile = auth.security_profile
    if profile >= SecurityProfile.TLS_BASIC and not tls:
        return Refusal(
            HTTPStatus.FORBIDDEN, f"security profile {int(profile)} requires TLS (wss://)"
        )
    if profile == SecurityProfile.TLS_CLIENT_CERT:
        if not client_fingerprint:
            return Refusal(HTTPStatus.FORBIDDEN, "security profile 3 requires a client certificate")
        if certificate_is_next(auth, client_fingerprint):
            return None  # the certificate this CSMS issued to it (ADR 0014)
        expected = normalise_fingerprint(auth.client_cert_fingerprint)
        if not expected or normalise_fingerprint(client_fingerprint) != expected:
            return Refusal(HTTPStatus.FORBIDDEN, "client certificate is not the station's")
        return None
    credentials = basic_credentials(authorization)
    if credentials is None:
        return Refusal(HTTPStatus.UNAUTHORIZED, "HTTP Basic authentication required", True)
    user, password = credentials
    if (
        user != auth.identity
        or not auth.password_hash
        or not verify_secret(password, auth.password_hash)
    ):
        return Refusal(HTTPStatus.UNAUTHORIZED, "invalid credentials", True)
    return None
