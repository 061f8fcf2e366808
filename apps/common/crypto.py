"""Encryption at rest of secrets the platform must read back (webhook signing secrets).

Hashing (apps.common.secrets) is for secrets the platform only checks; a secret it must use
itself (an HMAC key) can only be encrypted. Fernet (AES-128-CBC + HMAC-SHA256, from the
`cryptography` package) with keys from the environment (`ENCRYPTION_KEYS`): the first key
encrypts, all decrypt (MultiFernet), so a key is rotated by putting the new one first,
re-encrypting (`manage.py reencrypt_secrets`) and then removing the old one. Without
`ENCRYPTION_KEYS` the key is derived from SECRET_KEY (the embedded default); that derived key
stays a decrypt-only fallback, so moving to explicit keys needs no manual step.
See docs/adr/0010-secrets-at-rest.md.
"""

from __future__ import annotations

import base64
import functools
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

PREFIX = "fernet:"  # stored values say what they are


def _fernet_key(material: str) -> bytes:
    """A Fernet key from a configured value: a Fernet key as `Fernet.generate_key()` prints
    it is used as it is; any other string (at least 32 characters) is stretched with
    SHA-256 under a fixed context label."""
    raw = material.encode()
    try:
        if len(base64.urlsafe_b64decode(raw)) == 32 and len(raw) == 44:
            return raw
    except ValueError:
        pass
    if len(material) < 32:
        raise ValueError("an ENCRYPTION_KEYS entry must be a Fernet key or >= 32 characters")
    digest = hashlib.sha256(b"evcharge/secrets-at-rest/v1\0" + raw).digest()
    return base64.urlsafe_b64encode(digest)


@functools.cache
def _cipher(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    derived = Fernet(_fernet_key("secret-key-derived:" + secret_key))
    configured = [Fernet(_fernet_key(k)) for k in keys]
    return MultiFernet([*configured, derived] if configured else [derived])


def _current() -> MultiFernet:
    return _cipher(tuple(getattr(settings, "ENCRYPTION_KEYS", ()) or ()), settings.SECRET_KEY)


def encrypt(plaintext: str) -> str:
    return PREFIX + _current().encrypt(plaintext.encode()).decode()


def decrypt(stored: str) -> str:
    """The plaintext of a value made by `encrypt` with any configured key. Raises
    `ValueError` when no key decrypts it (a key was removed too early)."""
    if not stored.startswith(PREFIX):
        raise ValueError("not an encrypted value")
    try:
        return _current().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise ValueError("no configured key decrypts this value (ENCRYPTION_KEYS)") from None


def reencrypt(stored: str) -> str:
    """The value encrypted with the current first key (MultiFernet.rotate)."""
    return PREFIX + _current().rotate(stored[len(PREFIX) :].encode()).decode()
