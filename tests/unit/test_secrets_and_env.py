from __future__ import annotations

import pytest

from apps.common.secrets import generate_secret, hash_secret, verify_secret
from config.env import ConfigurationError, env_bool, env_int, env_list


def test_hash_is_salted_and_verifies_only_the_right_secret() -> None:
    secret = generate_secret()
    a, b = hash_secret(secret), hash_secret(secret)
    assert a != b  # a different salt each time
    assert verify_secret(secret, a) and verify_secret(secret, b)
    assert not verify_secret(secret + "x", a)
    assert not verify_secret(secret, "md5$salt$digest")
    assert not verify_secret(secret, "garbage")


def test_env_helpers_parse_and_reject_with_the_variable_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("X_BOOL", "yes")
    monkeypatch.setenv("X_INT", "12")
    monkeypatch.setenv("X_LIST", "a.example, b.example,,")
    assert env_bool("X_BOOL", False) is True
    assert env_int("X_INT", 0) == 12
    assert env_list("X_LIST", []) == ["a.example", "b.example"]
    monkeypatch.setenv("X_BOOL", "maybe")
    with pytest.raises(ConfigurationError, match="X_BOOL='maybe'"):
        env_bool("X_BOOL", False)
    monkeypatch.setenv("X_INT", "twelve")
    with pytest.raises(ConfigurationError, match="X_INT='twelve'"):
        env_int("X_INT", 0)


def test_secrets_at_rest_are_encrypted_and_rotate(settings: object) -> None:
    from cryptography.fernet import Fernet

    from apps.common import crypto

    settings.ENCRYPTION_KEYS = []  # type: ignore[attr-defined]
    stored = crypto.encrypt("whsec_abc")
    assert stored.startswith("fernet:") and "whsec_abc" not in stored
    assert crypto.decrypt(stored) == "whsec_abc"
    # Rotation: a new key first; the old value still decrypts (the SECRET_KEY-derived key
    # stays a decrypt-only fallback), re-encryption moves it to the new key.
    new = Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [new]  # type: ignore[attr-defined]
    assert crypto.decrypt(stored) == "whsec_abc"
    rotated = crypto.reencrypt(stored)
    assert Fernet(new.encode()).decrypt(rotated.removeprefix("fernet:").encode()) == b"whsec_abc"
    # Without the key that encrypted it, a value does not decrypt.
    settings.ENCRYPTION_KEYS = ["x" * 40]  # type: ignore[attr-defined]
    import pytest

    with pytest.raises(ValueError, match="ENCRYPTION_KEYS"):
        crypto.decrypt(rotated)
    assert crypto.decrypt(stored) == "whsec_abc"  # the derived fallback still reads the old one
