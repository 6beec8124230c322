"""Derived digest passwords and JWT decoding."""

from datetime import UTC, datetime

import pytest

from custom_components.enphase_local.envoy import (
    EnvoyTokenError,
    decode_token,
    envoy_password,
    installer_password,
)

from .helpers import make_token


@pytest.mark.parametrize(
    ("serial", "password"),
    [
        # The check value from PROTOCOL.md.
        ("122112123456", "d525d2jh"),
        # Derived by hand: md5 ...c3c01790, four "0" and four "1"; the count
        # of zeros drops from 3 to 2 before the second "0" is replaced.
        ("122112123525", "j97Dhc3c"),
        # md5 ...118dc15e, nine "1": the count drops to 8 before the first "1".
        ("122112163641", "e5Hcd8GF"),
    ],
)
def test_installer_password(serial: str, password: str) -> None:
    assert installer_password(serial) == password


def test_installer_password_differs_per_serial() -> None:
    assert installer_password("122112123456") != installer_password("122112123457")


def test_envoy_password_is_last_six_chars() -> None:
    assert envoy_password("122112123456") == "123456"


def test_decode_token_owner_claims() -> None:
    token = make_token(
        {
            "aud": "122112123456",
            "iss": "Entrez",
            "enphaseUser": "owner",
            "exp": 1785236000,
            "iat": 1753700000,
            "jti": "abc",
            "username": "owner@example.com",
        }
    )
    info = decode_token(f"  {token}\n")
    assert info.serial == "122112123456"
    assert info.role == "owner"
    assert info.username == "owner@example.com"
    assert info.issued_at == datetime(2025, 7, 28, 10, 53, 20, tzinfo=UTC)
    assert info.expires_at == datetime.fromtimestamp(1785236000, tz=UTC)
    assert info.is_expired(datetime(2026, 1, 1, tzinfo=UTC)) is False
    assert info.is_expired(datetime(2027, 1, 1, tzinfo=UTC)) is True


def test_decode_token_audience_list_and_missing_optional_claims() -> None:
    info = decode_token(make_token({"aud": [7, "999", "888"], "exp": 1785236000.5}))
    assert info.serial == "999"
    assert info.role is None
    assert info.username is None
    assert info.issued_at is None
    assert info.expires_at.timestamp() == 1785236000.5


@pytest.mark.parametrize(
    ("aud", "serial"),
    [([], None), ([1, 2], None), (42, None), (None, None)],
)
def test_decode_token_unusable_audience(aud: object, serial: str | None) -> None:
    assert decode_token(make_token({"aud": aud, "exp": 1785236000})).serial == serial


def test_decode_token_ignores_unusable_iat() -> None:
    info = decode_token(make_token({"exp": 1785236000, "iat": "yesterday"}))
    assert info.issued_at is None


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("not-a-token", "not a JWT"),
        ("a.b", "not a JWT"),
        ("a..c", "not a JWT"),
        ("a.b.c.d", "not a JWT"),
        ("eyJhbGciOiJFUzI1NiJ9.!!!!.c2ln", "not base64url JSON"),
        ("eyJhbGciOiJFUzI1NiJ9.bm90IGpzb24.c2ln", "not base64url JSON"),
        (make_token(["exp", 1]), "not a JSON object"),
        (make_token({"aud": "1"}), "no valid expiry"),
        (make_token({"exp": True}), "no valid expiry"),
        (make_token({"exp": "1785236000"}), "no valid expiry"),
        (make_token({"exp": 10**20}), "no valid expiry"),
    ],
)
def test_decode_token_rejects(token: str, message: str) -> None:
    with pytest.raises(EnvoyTokenError, match=message) as err:
        decode_token(token)
    assert token not in str(err.value)
