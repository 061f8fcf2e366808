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
